package auth

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestDevKeyRoundTrip: NewDevKey's files load into a signer and a verifier
// that accept each other's tokens; a second dev key in the same dir rotates.
func TestDevKeyRoundTrip(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "keys")
	signerPath, jwksPath, err := NewDevKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(signerPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("signer file %s: %v, mode %v; want 0600", signerPath, err, fi.Mode())
	}
	first, err := LoadSigner(signerPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first.KeyID(), "dev-") || first.PublicJWK().Algorithm != "EdDSA" {
		t.Errorf("kid %q, alg %q", first.KeyID(), first.PublicJWK().Algorithm)
	}
	signer2, _, err := NewDevKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	second, err := LoadSigner(signer2)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(t.Context(), VerifierConfig{JWKSFile: jwksPath, Audience: "whistle"})
	if err != nil {
		t.Fatal(err)
	}
	c := officer()
	c.Issuer = ""
	tok1, tok2 := mustMint(t, first, c), mustMint(t, second, c)
	verifies(t, v, tok1, tok2)
	if err := RemoveFromJWKS(jwksPath, first.KeyID()); err != nil {
		t.Fatal(err)
	}
	if err := v.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	verifies(t, v, tok2)
	if _, err := v.Verify(tok1); err == nil {
		t.Error("the removed key's token still verifies")
	}
}

// TestMintClaims checks the claims Mint writes: defaults and NotBefore.
func TestMintClaims(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t, "ed25519", "k1")
	tests := []struct {
		name               string
		ttl                time.Duration
		notBefore          time.Time
		wantNbf, wantExp   time.Time
		wantIssuer, wantOU string
	}{
		{"defaults", 0, time.Time{}, base, base.Add(12 * time.Hour), testIssuer, "community-12"},
		{"TTL", time.Hour, time.Time{}, base, base.Add(time.Hour), testIssuer, "community-12"},
		{"NotBefore later", time.Hour, base.Add(24 * time.Hour), base.Add(24 * time.Hour), base.Add(25 * time.Hour), testIssuer, "community-12"},
		{"NotBefore past", time.Hour, base.Add(-time.Hour), base, base.Add(time.Hour), testIssuer, "community-12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := officer()
			c.TTL, c.NotBefore = tt.ttl, tt.notBefore
			tok, err := jwt.ParseSigned(mustMint(t, s, c), algorithms)
			if err != nil {
				t.Fatal(err)
			}
			var got tokenClaims
			if err := tok.Claims(s.PublicJWK().Key, &got); err != nil {
				t.Fatal(err)
			}
			if !got.NotBefore.Time().Equal(tt.wantNbf) || !got.Expiry.Time().Equal(tt.wantExp) || !got.IssuedAt.Time().Equal(base) ||
				got.Issuer != tt.wantIssuer || got.OrgUnit != tt.wantOU || strings.Join(got.Roles, ",") != "community_officer,reporter" ||
				tok.Headers[0].KeyID != "k1" || tok.Headers[0].Algorithm != "EdDSA" {
				t.Errorf("claims %+v, header %+v", got, tok.Headers[0])
			}
		})
	}
}

func TestMintRefuses(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t, "p256", "k1")
	tests := []struct {
		name   string
		change func(*Claims)
		want   string
	}{
		{"no subject", func(c *Claims) { c.Subject = "" }, "set a subject"},
		{"no org unit", func(c *Claims) { c.OrgUnit = "" }, "set an org unit"},
		{"org unit too long", func(c *Claims) { c.OrgUnit = strings.Repeat("o", 65) }, "set an org unit"},
		{"no roles", func(c *Claims) { c.Roles = nil }, "at least one role"},
		{"unknown role", func(c *Claims) { c.Roles = []Role{"mayor"} }, `unknown role "mayor"`},
		{"the resident's role", func(c *Claims) { c.Roles = []Role{RoleResident} }, `role "resident"`},
		{"no audience", func(c *Claims) { c.Audience = "" }, "set the audience"},
		{"negative TTL", func(c *Claims) { c.TTL = -time.Hour }, "TTL must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := officer()
			tt.change(&c)
			if _, err := s.Mint(c); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestLoadSignerRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ed := newTestSigner(t, "ed25519", "k1")
	write := func(name string, v any) string {
		path := filepath.Join(dir, name)
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, path, data)
		return path
	}
	noKid := ed.key
	noKid.KeyID = ""
	tests := []struct {
		name string
		path string
		want string
	}{
		{"missing file", filepath.Join(dir, "none.json"), "no such file"},
		{"public key", write("public.json", ed.PublicJWK()), "a signer needs the private key"},
		{"no kid", write("nokid.json", noKid), `no "kid"`},
		{"not a JWK", write("junk.json", map[string]string{"kty": "nope"}), "not a JWK"},
		{"symmetric key", write("hmac.json", jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "h"}), "not an Ed25519 or ECDSA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := LoadSigner(tt.path); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestJWKSFileEdits(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t, "ed25519", "k1")
	noKid := s.PublicJWK()
	noKid.KeyID = ""
	tests := []struct {
		name string
		edit func(path string) error
		want string
	}{
		{"add twice", func(p string) error { return AddToJWKS(p, s.PublicJWK()) }, `kid "k1" is there already`},
		{"add a private key", func(p string) error { return AddToJWKS(p, s.key) }, "not a public key"},
		{"add a key without kid", func(p string) error { return AddToJWKS(p, noKid) }, "has no kid"},
		{"remove an unknown kid", func(p string) error { return RemoveFromJWKS(p, "k2") }, `no key with kid "k2"`},
		{"remove from a missing file", func(p string) error { return RemoveFromJWKS(p+".none", "k1") }, `no key with kid "k1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "jwks.json")
			if err := AddToJWKS(path, s.PublicJWK()); err != nil {
				t.Fatal(err)
			}
			if err := tt.edit(path); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
