// Command whistle-devkeys makes the development credentials of the compose
// stack (deploy/compose/compose.yaml) in one folder:
//
//   - signer.json: an Ed25519 private key as a JWK with a kid, which
//     whistlectl mints bearer tokens with (`whistlectl token --key`, or
//     signing_key in its config);
//   - jwks.json: the JWKS holding the public half, which every service
//     verifies tokens against (WHISTLE_JWKS);
//   - whistlectl.yaml: a whistlectl config naming the stack's address, the
//     signing key and the city's org unit.
//
// The files have the format `whistle dev` writes (pkg/auth: NewDevKey,
// LoadSigner). A key already in the folder is kept, so that tokens minted
// with it stay valid when the stack restarts; the whistlectl config is written
// every time. It uses the standard library only, so that the image can build
// it outside the workspace. Such a key is for development only.
package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// File names inside the keys folder.
const (
	signerFile = "signer.json"
	jwksFile   = "jwks.json"
	ctlFile    = "whistlectl.yaml"
)

// jwk is the JSON Web Key form of an Ed25519 key (RFC 8037); D is empty in
// the public half.
type jwk struct {
	Use string `json:"use"`
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Crv string `json:"crv"`
	Alg string `json:"alg"`
	X   string `json:"x"`
	D   string `json:"d,omitempty"`
}

func main() {
	dir := flag.String("dir", "/keys", "folder to write the key, the JWKS and the whistlectl config into")
	addr := flag.String("addr", "gateway:7000", "address whistlectl's config names (the stack's gRPC gateway)")
	city := flag.String("city", "hh", "the city's org unit, which the city's monitor and administrator act for")
	flag.Parse()
	msg, err := run(*dir, *addr, *city)
	if err != nil {
		fmt.Fprintln(os.Stderr, "whistle-devkeys:", err)
		os.Exit(1)
	}
	fmt.Println(msg)
}

// run keeps or makes the key in dir, writes the whistlectl config and says
// what it did.
func run(dir, addr, city string) (string, error) {
	if addr == "" || city == "" {
		return "", errors.New("--addr and --city must not be empty")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	kid, kept, err := ensureKey(dir)
	if err != nil {
		return "", err
	}
	ctl := "# written by whistle-devkeys: the compose stack's development credentials\n" +
		"addr: " + strconv.Quote(addr) + "\n" +
		"city: " + strconv.Quote(city) + "\n" +
		"signing_key: " + signerFile + "\n"
	if err := writeFile(filepath.Join(dir, ctlFile), []byte(ctl), 0o644); err != nil {
		return "", err
	}
	if kept {
		return fmt.Sprintf("kept the development key %s in %s", kid, dir), nil
	}
	return fmt.Sprintf("made the development key %s in %s (%s, %s, %s)", kid, dir, signerFile, jwksFile, ctlFile), nil
}

// ensureKey returns the kid of the key in dir, making a new key and JWKS
// unless both files are there and agree.
func ensureKey(dir string) (kid string, kept bool, err error) {
	if kid, err := existingKey(dir); err == nil {
		return kid, true, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", false, fmt.Errorf("generate key: %w", err)
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return "", false, err
	}
	k := jwk{Use: "sig", Kty: "OKP", Kid: "dev-" + hex.EncodeToString(id), Crv: "Ed25519", Alg: "EdDSA",
		X: base64.RawURLEncoding.EncodeToString(pub), D: base64.RawURLEncoding.EncodeToString(priv.Seed())}
	private, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return "", false, err
	}
	k.D = ""
	set, err := json.MarshalIndent(struct {
		Keys []jwk `json:"keys"`
	}{[]jwk{k}}, "", "  ")
	if err != nil {
		return "", false, err
	}
	if err := writeFile(filepath.Join(dir, signerFile), append(private, '\n'), 0o600); err != nil {
		return "", false, err
	}
	if err := writeFile(filepath.Join(dir, jwksFile), append(set, '\n'), 0o644); err != nil {
		return "", false, err
	}
	return k.Kid, false, nil
}

// existingKey returns the kid of the key in dir when the signer and the JWKS
// are both there and the JWKS holds the signer's public half; an error
// matching fs.ErrNotExist when a new key should be made.
func existingKey(dir string) (string, error) {
	var signer jwk
	var set struct {
		Keys []jwk `json:"keys"`
	}
	for name, dst := range map[string]any{signerFile: &signer, jwksFile: &set} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", err
		}
		if err := json.Unmarshal(data, dst); err != nil {
			return "", fmt.Errorf("%s: %w (remove the folder's files to make a new key)", name, err)
		}
	}
	for _, k := range set.Keys {
		if k.Kid == signer.Kid && k.X == signer.X && signer.D != "" {
			return signer.Kid, nil
		}
	}
	return "", fmt.Errorf("%s does not hold the public half of %s: %w", jwksFile, signerFile, fs.ErrNotExist)
}

// writeFile writes data to path through a temporary file, so that a reader
// never sees half a file.
func writeFile(path string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
