package main

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/whistle-civic/whistle/pkg/auth"
)

// devIssuer is the "iss" `whistle dev` mints its sample tokens with.
const devIssuer = "whistle-dev"

// audience is what Whistle's tokens are for.
const audience = "whistle"

// keys are dev's signing key in <data>/auth, as a Signer (for tokens as dev
// mints them) and as raw Ed25519 (for tokens no Signer would mint: expired,
// without iat, with other headers).
type keys struct {
	signer *auth.Signer
	kid    string
	priv   ed25519.PrivateKey
	pub    ed25519.PublicKey
}

// loadKeys reads the signing key `whistle dev` made in data/auth.
func loadKeys(data string) (*keys, error) {
	matches, _ := filepath.Glob(filepath.Join(data, "auth", "signer-*.json"))
	if len(matches) == 0 {
		return nil, fmt.Errorf("no signing key in %s (whistle dev makes signer-<kid>.json there at start)", filepath.Join(data, "auth"))
	}
	s, err := auth.LoadSigner(matches[0])
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(matches[0])
	if err != nil {
		return nil, err
	}
	var jwk struct{ Kty, Crv, D, X, Kid string }
	if err := json.Unmarshal(raw, &jwk); err != nil || jwk.Kty != "OKP" || jwk.Crv != "Ed25519" {
		return nil, fmt.Errorf("%s: not an Ed25519 JWK (%v); the suite forges tokens with dev's Ed25519 key", matches[0], err)
	}
	seed, err := base64.RawURLEncoding.DecodeString(jwk.D)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s: the private key \"d\" is not a base64url Ed25519 seed", matches[0])
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return &keys{signer: s, kid: s.KeyID(), priv: priv, pub: priv.Public().(ed25519.PublicKey)}, nil
}

// mint is a token as dev mints them, for an hour: the suite's ordinary
// caller. Claims the signer refuses to mint (the resident's role) are forged
// with the same key, as anyone holding it could.
func (k *keys) mint(subject string, role auth.Role, unit string) (string, error) {
	if role == auth.RoleResident {
		return k.forge(nil, baseClaims(subject, role, unit)), nil
	}
	return k.signer.Mint(auth.Claims{Subject: subject, OrgUnit: unit, Roles: []auth.Role{role}, Audience: audience,
		Issuer: devIssuer, TTL: time.Hour})
}

// claims are a token's payload, field by field, for forging.
type claims map[string]any

// baseClaims are valid claims for role at unit: issued now, valid an hour.
func baseClaims(subject string, role auth.Role, unit string) claims {
	now := time.Now().Unix()
	return claims{"sub": subject, "org": unit, "roles": []string{string(role)}, "aud": []string{audience},
		"iss": devIssuer, "iat": now, "nbf": now, "exp": now + 3600}
}

// forge signs c with dev's key under the given header (alg EdDSA and dev's
// kid unless the header says otherwise).
func (k *keys) forge(header map[string]any, c claims) string {
	h := map[string]any{"alg": "EdDSA", "kid": k.kid, "typ": "JWT"}
	for name, v := range header {
		h[name] = v
	}
	input := encodePart(h) + "." + encodePart(c)
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(k.priv, []byte(input)))
}

// forgeOtherKey signs c with a key that is not in dev's JWKS, naming dev's kid.
func (k *keys) forgeOtherKey(c claims) string {
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	input := encodePart(map[string]any{"alg": "EdDSA", "kid": k.kid, "typ": "JWT"}) + "." + encodePart(c)
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(other, []byte(input)))
}

// forgeNone is c without a signature, alg "none".
func (k *keys) forgeNone(c claims) string {
	return encodePart(map[string]any{"alg": "none", "kid": k.kid, "typ": "JWT"}) + "." + encodePart(c) + "."
}

// forgeHMAC signs c with HS256 keyed by dev's public key: the old
// algorithm-confusion attack on verifiers that take the header's word.
func (k *keys) forgeHMAC(c claims) string {
	input := encodePart(map[string]any{"alg": "HS256", "kid": k.kid, "typ": "JWT"}) + "." + encodePart(c)
	mac := hmac.New(sha256.New, k.pub)
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func encodePart(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // maps of strings and numbers always encode
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
