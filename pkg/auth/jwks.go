package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	jose "github.com/go-jose/go-jose/v4"
)

// maxJWKSBytes bounds a JWKS read from a file or URL.
const maxJWKSBytes = 1 << 20

// verifyKey is a public key of the JWKS and the one algorithm it verifies.
type verifyKey struct {
	alg jose.SignatureAlgorithm
	key any
}

// keyAlg returns the algorithm a key signs or verifies with: EdDSA for
// Ed25519, ES256 for P-256, ES384 for P-384. Other keys are not accepted.
func keyAlg(key any) (jose.SignatureAlgorithm, bool) {
	switch k := key.(type) {
	case ed25519.PublicKey, ed25519.PrivateKey:
		return jose.EdDSA, true
	case *ecdsa.PublicKey:
		return ecAlg(k.Curve)
	case *ecdsa.PrivateKey:
		return ecAlg(k.Curve)
	}
	return "", false
}

func ecAlg(c elliptic.Curve) (jose.SignatureAlgorithm, bool) {
	switch c {
	case elliptic.P256():
		return jose.ES256, true
	case elliptic.P384():
		return jose.ES384, true
	}
	return "", false
}

// parseJWKS reads a JWKS into its usable keys by kid. Keys this package does
// not verify with (RSA, symmetric, other curves, "use" other than "sig",
// no kid) are skipped, so a set shared with other systems still loads; a
// private key, a duplicate kid or a set with no usable key is an error.
func parseJWKS(data []byte) (map[string]verifyKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("not a JWKS (JSON with a \"keys\" array): %w", err)
	}
	keys := make(map[string]verifyKey, len(set.Keys))
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			continue // a key type this package does not know
		}
		if !k.IsPublic() {
			return nil, fmt.Errorf("key %q is not a public key: publish only public keys in a JWKS (and replace the leaked one)", k.KeyID)
		}
		alg, ok := keyAlg(k.Key)
		if !ok || k.KeyID == "" || (k.Use != "" && k.Use != "sig") || (k.Algorithm != "" && k.Algorithm != string(alg)) {
			continue
		}
		if _, dup := keys[k.KeyID]; dup {
			return nil, fmt.Errorf("two keys with kid %q: give every key its own kid", k.KeyID)
		}
		keys[k.KeyID] = verifyKey{alg: alg, key: k.Key}
	}
	if len(keys) == 0 {
		return nil, errors.New("no usable key: the JWKS needs an Ed25519 or ECDSA P-256/P-384 public key with a kid")
	}
	return keys, nil
}

// readJWKSFile reads a JWKS file, at most maxJWKSBytes of it.
func readJWKSFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f)
}

// fetchJWKS gets a JWKS by HTTP GET; anything but 200 is an error.
func fetchJWKS(ctx context.Context, c *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %s", resp.Status)
	}
	return readLimited(resp.Body)
}

func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxJWKSBytes+1))
	if err == nil && len(data) > maxJWKSBytes {
		err = fmt.Errorf("larger than %d bytes", maxJWKSBytes)
	}
	return data, err
}

// AddToJWKS appends a public key to the JWKS file at path, creating the file
// if it does not exist, e.g. to publish a new signing key before minting
// with it (rotation). A private key, a key without kid or a kid already in
// the set is refused. The file is replaced atomically, mode 0644.
func AddToJWKS(path string, key jose.JSONWebKey) error {
	if !key.IsPublic() {
		return errors.New("add to JWKS: not a public key: pass Signer.PublicJWK(), never the private key")
	}
	if key.KeyID == "" {
		return errors.New("add to JWKS: the key has no kid: set one so tokens can name it")
	}
	set, err := readSet(path)
	if err != nil {
		return err
	}
	if len(set.Key(key.KeyID)) > 0 {
		return fmt.Errorf("add to JWKS %s: kid %q is there already", path, key.KeyID)
	}
	set.Keys = append(set.Keys, key)
	return writeSet(path, set)
}

// RemoveFromJWKS removes the key with kid from the JWKS file at path, e.g.
// to retire a signing key: verifiers stop accepting its tokens at their
// next refresh. Removing a kid the set does not hold is an error.
func RemoveFromJWKS(path, kid string) error {
	set, err := readSet(path)
	if err != nil {
		return err
	}
	kept := set.Keys[:0]
	for _, k := range set.Keys {
		if k.KeyID != kid {
			kept = append(kept, k)
		}
	}
	if len(kept) == len(set.Keys) {
		return fmt.Errorf("remove from JWKS %s: no key with kid %q", path, kid)
	}
	set.Keys = kept
	return writeSet(path, set)
}

// readSet reads a JWKS file; a missing file is an empty set.
func readSet(path string) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return set, nil
	}
	if err != nil {
		return set, fmt.Errorf("read JWKS: %w", err)
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return set, fmt.Errorf("read JWKS %s: %w: fix or remove the file", path, err)
	}
	return set, nil
}

// writeSet writes a JWKS file atomically (temporary file, then rename).
func writeSet(path string, set jose.JSONWebKeySet) error {
	data, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return fmt.Errorf("encode JWKS: %w", err)
	}
	return writeFileAtomic(path, append(data, '\n'), 0o644)
}

// writeFileAtomic writes data to a temporary file beside path with mode
// perm and renames it over path, so readers see the old or the new file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing left to remove
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
