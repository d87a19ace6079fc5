package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const testIssuer = "https://id.city.example"

// officer is the claims of a valid token.
func officer() Claims {
	return Claims{Subject: "u-4711", OrgUnit: "community-12", Roles: []Role{RoleCommunityOfficer, RoleReporter},
		Audience: "whistle", Issuer: testIssuer}
}

// rawClaims is a valid token's payload, for tests that change one claim.
func rawClaims() map[string]any {
	return map[string]any{"sub": "u-4711", "org": "community-12", "roles": []string{"community_officer"},
		"aud": "whistle", "iss": testIssuer, "iat": base.Unix(), "nbf": base.Unix(), "exp": base.Add(time.Hour).Unix()}
}

func with(k string, v any) map[string]any {
	c := rawClaims()
	if v == nil {
		delete(c, k)
	} else {
		c[k] = v
	}
	return c
}

// b64 is base64url of a JSON value, as in a JWT.
func b64(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(data)
}

// signWith signs claims with a raw key and algorithm, naming kid.
func signWith(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid)
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// signPayload signs a raw payload, which need not be a JSON object.
func signPayload(t *testing.T, s *Signer, payload string) string {
	t.Helper()
	jws, err := s.jws.Sign([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerify(t *testing.T) {
	t.Parallel()
	ed := newTestSigner(t, "ed25519", "ed-1")
	es256 := newTestSigner(t, "p256", "es256-1")
	es384 := newTestSigner(t, "p384", "es384-1")
	stranger := newTestSigner(t, "ed25519", "stranger")
	noKid := newTestSigner(t, "ed25519", "x")
	noKid.key.KeyID = ""
	noKid.jws, _ = jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: noKid.key.Key}, nil)
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	writeJWKS(t, jwks, ed, es256, es384)

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	edPublic := []byte(ed.PublicJWK().Key.(ed25519.PublicKey))
	valid := mustMint(t, ed, officer())
	parts := strings.Split(valid, ".")
	admin := rawClaims()
	admin["roles"] = []string{"admin"}
	later := officer()
	later.NotBefore = base.Add(10 * time.Minute)
	soon := officer()
	soon.NotBefore = base.Add(20 * time.Second)
	otherAud := officer()
	otherAud.Audience = "billing"
	otherIss := officer()
	otherIss.Issuer = "https://evil.example"

	tests := []struct {
		name  string
		token string
		after time.Duration // how long after base the token is checked
		want  string        // part of the error; "" for success
	}{
		{"valid Ed25519", valid, 0, ""},
		{"valid ES256", mustMint(t, es256, officer()), 0, ""},
		{"valid ES384", mustMint(t, es384, officer()), 0, ""},
		{"audience as array", signRaw(t, ed, with("aud", []string{"other", "whistle"})), 0, ""},
		{"no nbf and no iat", signRaw(t, ed, with("nbf", nil)), 0, ""},
		{"expired", valid, DefaultTTL + DefaultLeeway + time.Second, "token expired at 2026-03-01T21:00:00Z: get a new token"},
		{"expired within leeway", valid, DefaultTTL + DefaultLeeway - time.Second, ""},
		{"not yet valid", mustMint(t, ed, later), 0, "not yet valid until 2026-03-01T09:10:00Z"},
		{"not yet valid within leeway", mustMint(t, ed, soon), 0, ""},
		{"issued in the future", signRaw(t, ed, with("iat", base.Add(time.Hour).Unix())), 0, "issued in the future"},
		{"no expiry", signRaw(t, ed, with("exp", nil)), 0, "no expiry"},
		{"wrong audience", mustMint(t, ed, otherAud), 0, `wrong audience "billing"`},
		{"no audience", signRaw(t, ed, with("aud", nil)), 0, "wrong audience"},
		{"wrong issuer", mustMint(t, ed, otherIss), 0, `wrong issuer "https://evil.example"`},
		{"unknown key", mustMint(t, stranger, officer()), 0, `token signed by an unknown key (kid "stranger")`},
		{"known kid, other key", signWith(t, jose.EdDSA, stranger.key.Key, "ed-1", rawClaims()), 0, "signature does not verify"},
		{"ES256 under an Ed25519 kid", signWith(t, jose.ES256, es256.key.Key, "ed-1", rawClaims()), 0, "wrong algorithm for its key (EdDSA expected)"},
		{"tampered payload", parts[0] + "." + b64(t, admin) + "." + parts[2], 0, "signature does not verify"},
		{"tampered signature", parts[0] + "." + parts[1] + "." + parts[2][:10], 0, "signature does not verify"},
		{"alg none", b64(t, map[string]string{"alg": "none", "kid": "ed-1"}) + "." + b64(t, admin) + ".", 0, `algorithm "none"`},
		{"HS256 with the public key as secret", signWith(t, jose.HS256, edPublic, "ed-1", admin), 0, `algorithm "HS256"`},
		{"RS256", signWith(t, jose.RS256, rsaKey, "ed-1", admin), 0, `algorithm "RS256"`},
		{"no kid", signRaw(t, noKid, rawClaims()), 0, "names no signing key"},
		{"empty", "", 0, "malformed token: it is empty"},
		{"two parts", "a.b", 0, "three dot-separated parts, this has 2"},
		{"garbage", "garbage", 0, "this has 1"},
		{"garbage header", "%%%.e30.sig", 0, "header is not base64url-encoded JSON"},
		{"header not JSON", base64.RawURLEncoding.EncodeToString([]byte("not json")) + ".e30.c2ln", 0, "header is not base64url-encoded JSON"},
		{"too long", strings.Repeat("a", MaxTokenBytes+1), 0, "longer than"},
		{"claims not an object", signPayload(t, ed, `["x"]`), 0, "claims are not a JSON object"},
		{"roles not an array", signRaw(t, ed, with("roles", "admin")), 0, "claims are not a JSON object"},
		{"no subject", signRaw(t, ed, with("sub", nil)), 0, "no usable subject claim"},
		{"no org", signRaw(t, ed, with("org", nil)), 0, "no org unit claim (org)"},
		{"empty org", signRaw(t, ed, with("org", "")), 0, "no org unit claim (org)"},
		{"org too long", signRaw(t, ed, with("org", strings.Repeat("o", 65))), 0, "org unit claim longer than 64"},
		{"org of 64", signRaw(t, ed, with("org", strings.Repeat("o", 64))), 0, ""},
		{"no roles", signRaw(t, ed, with("roles", nil)), 0, "no roles"},
		{"empty roles", signRaw(t, ed, with("roles", []string{})), 0, "no roles"},
		{"unknown role", signRaw(t, ed, with("roles", []string{"reporter", "mayor"})), 0, `unknown role "mayor"`},
		{"the resident's role", signRaw(t, ed, with("roles", []string{"resident"})), 0, `role "resident"`},
		{"the resident's role beside another", signRaw(t, ed, with("roles", []string{"community_officer", "resident"})), 0, `role "resident"`},
		{"lives 24 h", signRaw(t, ed, with("exp", base.Add(DefaultMaxLifetime).Unix())), 0, ""},
		{"lives a year", signRaw(t, ed, with("exp", base.Add(365*24*time.Hour).Unix())), 0, "longer than the 24h0m0s this server accepts"},
		{"lives 25 h", signRaw(t, ed, with("exp", base.Add(25*time.Hour).Unix())), 0, "token valid for 25h0m0s"},
		{"no iat, expires in 25 h", signRaw(t, ed, map[string]any{"sub": "u-4711", "org": "community-12", "roles": []string{"community_officer"},
			"aud": "whistle", "iss": testIssuer, "exp": base.Add(25 * time.Hour).Unix()}), 0, "longer than the 24h0m0s"},
		{"no iat, old token expiring within 24 h", signRaw(t, ed, map[string]any{"sub": "u-4711", "org": "community-12", "roles": []string{"community_officer"},
			"aud": "whistle", "iss": testIssuer, "exp": base.Add(30 * time.Hour).Unix()}), 7 * time.Hour, ""},
		{"no issuer when one is configured", signRaw(t, ed, with("iss", nil)), 0, `wrong issuer ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := NewVerifier(t.Context(), VerifierConfig{JWKSFile: jwks, Audience: "whistle", Issuer: testIssuer,
				Clock: newClock(base.Add(tt.after)).Now})
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Verify(tt.token)
			if tt.want != "" {
				wantUnauthenticated(t, err, tt.want, tt.token)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.Subject != "u-4711" || !strings.HasPrefix(p.OrgUnit, "community-12") && p.OrgUnit != strings.Repeat("o", 64) ||
				!p.Has(RoleCommunityOfficer) || p.Via != "jwt" {
				t.Errorf("principal %+v", p)
			}
		})
	}
}

func TestVerifyPrincipal(t *testing.T) {
	t.Parallel()
	ed := newTestSigner(t, "ed25519", "ed-1")
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	writeJWKS(t, jwks, ed)
	v, err := NewVerifier(t.Context(), VerifierConfig{JWKSFile: jwks, Audience: "whistle", Clock: newClock(base).Now})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(signRaw(t, ed, with("roles", []string{"monitor", "admin", "monitor"})))
	if err != nil {
		t.Fatal(err)
	}
	want := Principal{Subject: "u-4711", OrgUnit: "community-12", Roles: []Role{RoleMonitor, RoleAdmin}, Via: "jwt"}
	if p.Subject != want.Subject || p.OrgUnit != want.OrgUnit || !slices.Equal(p.Roles, want.Roles) || p.Via != want.Via {
		t.Errorf("principal %+v, want %+v (duplicate roles dropped; no issuer configured, so any is accepted)", p, want)
	}
}

func TestNewVerifierConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "jwks.json")
	writeJWKS(t, good, newTestSigner(t, "ed25519", "k1"))
	tests := []struct {
		name string
		cfg  VerifierConfig
		want string
	}{
		{"no source", VerifierConfig{Audience: "whistle"}, "exactly one of"},
		{"two sources", VerifierConfig{JWKSFile: good, JWKSURL: "https://id.example/jwks", Audience: "whistle"}, "exactly one of"},
		{"no audience", VerifierConfig{JWKSFile: good}, "set the audience"},
		{"negative leeway", VerifierConfig{JWKSFile: good, Audience: "whistle", Leeway: -time.Second}, "must not be negative"},
		{"negative refresh", VerifierConfig{JWKSFile: good, Audience: "whistle", Refresh: -time.Second}, "must not be negative"},
		{"ftp URL", VerifierConfig{JWKSURL: "ftp://id.example/jwks", Audience: "whistle"}, "not an http(s) URL"},
		{"missing file", VerifierConfig{JWKSFile: filepath.Join(dir, "none.json"), Audience: "whistle"}, "check that it exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewVerifier(t.Context(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestVerifierDefaults(t *testing.T) {
	t.Parallel()
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	writeJWKS(t, jwks, newTestSigner(t, "ed25519", "k1"))
	v, err := NewVerifier(t.Context(), VerifierConfig{JWKSFile: jwks, Audience: "whistle"})
	if err != nil {
		t.Fatal(err)
	}
	c := v.cfg
	if c.Leeway != 30*time.Second || c.Refresh != 5*time.Minute || c.HTTPClient.Timeout != 5*time.Second || c.Clock == nil || c.Log == nil {
		t.Errorf("defaults: leeway %v, refresh %v, HTTP timeout %v", c.Leeway, c.Refresh, c.HTTPClient.Timeout)
	}
}
