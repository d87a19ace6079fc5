package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// TestRotationFile: a JWKS file with two keys verifies tokens of both; once
// the old key is removed from the file, its tokens stop verifying after the
// next refresh, whether Refresh is called or the refresh period passes.
func TestRotationFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		refresh func(t *testing.T, v *Verifier, c *fakeClock)
	}{
		{"Refresh", func(t *testing.T, v *Verifier, _ *fakeClock) {
			if err := v.Refresh(t.Context()); err != nil {
				t.Fatal(err)
			}
		}},
		{"refresh period passes", func(_ *testing.T, _ *Verifier, c *fakeClock) { c.Advance(DefaultRefresh) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			old, cur := newTestSigner(t, "ed25519", "old"), newTestSigner(t, "p256", "new")
			jwks := filepath.Join(t.TempDir(), "jwks.json")
			writeJWKS(t, jwks, old, cur)
			clock := newClock(base)
			v, err := NewVerifier(t.Context(), VerifierConfig{JWKSFile: jwks, Audience: "whistle", Leeway: time.Hour, Clock: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			oldTok, curTok := mustMint(t, old, officer()), mustMint(t, cur, officer())
			verifies(t, v, oldTok, curTok)

			if err := RemoveFromJWKS(jwks, "old"); err != nil {
				t.Fatal(err)
			}
			verifies(t, v, oldTok) // the keys read before stay until a refresh
			tt.refresh(t, v, clock)
			verifies(t, v, curTok)
			_, err = v.Verify(oldTok)
			wantUnauthenticated(t, err, `unknown key (kid "old")`, oldTok)
		})
	}
}

// verifies checks that every token verifies.
func verifies(t *testing.T, v *Verifier, tokens ...string) {
	t.Helper()
	for i, tok := range tokens {
		if _, err := v.Verify(tok); err != nil {
			t.Fatalf("token %d: %v", i+1, err)
		}
	}
}

// jwksServer serves a JWKS that the test may change or break, counting fetches.
type jwksServer struct {
	*httptest.Server
	body    atomic.Pointer[[]byte]
	fetches atomic.Int32
}

func newJWKSServer(t *testing.T, signers ...*Signer) *jwksServer {
	s := &jwksServer{}
	s.publish(t, signers...)
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		body := s.body.Load()
		if body == nil {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(*body)
	}))
	t.Cleanup(s.Close)
	return s
}

// publish serves the signers' public keys; none makes the server fail.
func (s *jwksServer) publish(t *testing.T, signers ...*Signer) {
	if len(signers) == 0 {
		s.body.Store(nil)
		return
	}
	var set jose.JSONWebKeySet
	for _, sg := range signers {
		set.Keys = append(set.Keys, sg.PublicJWK())
	}
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	s.body.Store(&data)
}

// TestJWKSURL: a JWKS over HTTPS is read at start, re-read when a token
// names an unknown kid (at most once per MinRefetch) and on the refresh
// period; a failed refresh keeps the keys read before.
func TestJWKSURL(t *testing.T) {
	t.Parallel()
	a, b, c := newTestSigner(t, "ed25519", "a"), newTestSigner(t, "p384", "b"), newTestSigner(t, "ed25519", "c")
	srv := newJWKSServer(t, a)
	clock := newClock(base)
	v, err := NewVerifier(t.Context(), VerifierConfig{JWKSURL: srv.URL + "/jwks.json", HTTPClient: srv.Client(),
		Audience: "whistle", Leeway: time.Hour, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tokA, tokB, tokC := mustMint(t, a, officer()), mustMint(t, b, officer()), mustMint(t, c, officer())
	steps := []struct {
		name    string
		advance time.Duration
		publish []*Signer // nil: unchanged; empty: server fails
		token   string
		want    string // part of the error; "" for success
		fetches int32  // fetches so far
	}{
		{"known kid, no fetch", 0, nil, tokA, "", 1},
		{"new kid soon after the last fetch: no refetch", time.Second, []*Signer{a, b}, tokB, `unknown key (kid "b")`, 1},
		{"new kid after MinRefetch: refetched", MinRefetch, nil, tokB, "", 2},
		{"unknown kid right after: no refetch", 0, nil, tokC, `unknown key (kid "c")`, 2},
		{"unknown kid after MinRefetch: refetched, still unknown", MinRefetch, nil, tokC, `unknown key (kid "c")`, 3},
		{"refresh period, server fails: old keys stay", DefaultRefresh, []*Signer{}, tokA, "", 4},
		{"failed refresh retried after MinRefetch", MinRefetch, []*Signer{b}, tokB, "", 5},
		{"key a removed at that refresh", 0, nil, tokA, `unknown key (kid "a")`, 5},
	}
	for _, s := range steps { // in order: each step builds on the last
		clock.Advance(s.advance)
		if s.publish != nil {
			srv.publish(t, s.publish...)
		}
		_, err := v.Verify(s.token)
		if s.want == "" && err != nil {
			t.Errorf("%s: %v", s.name, err)
		}
		if s.want != "" {
			wantUnauthenticated(t, err, s.want, s.token)
		}
		if n := srv.fetches.Load(); n != s.fetches {
			t.Errorf("%s: %d fetches, want %d", s.name, n, s.fetches)
		}
	}
}

func TestJWKSURLUnreachable(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t)
	_, err := NewVerifier(t.Context(), VerifierConfig{JWKSURL: srv.URL, HTTPClient: srv.Client(), Audience: "whistle"})
	if err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("error %v, want the HTTP status", err)
	}
}

func TestParseJWKS(t *testing.T) {
	t.Parallel()
	ed := newTestSigner(t, "ed25519", "ed")
	pub, _ := json.Marshal(ed.PublicJWK())
	priv, _ := json.Marshal(ed.key)
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, _ := json.Marshal(jose.JSONWebKey{Key: rsaPriv.Public(), KeyID: "rsa", Use: "sig"})
	tests := []struct {
		name     string
		jwks     string
		wantKids []string
		wantErr  string
	}{
		{"one key", `{"keys":[` + string(pub) + `]}`, []string{"ed"}, ""},
		{"RSA and unknown keys skipped", `{"keys":[` + string(rsaKey) + `,{"kty":"XYZ"},` + string(pub) + `]}`, []string{"ed"}, ""},
		{"encryption key skipped", `{"keys":[` + strings.Replace(string(pub), `"kty"`, `"use":"enc","kty"`, 1) + `]}`, nil, "no usable key"},
		{"key without kid skipped", `{"keys":[` + strings.Replace(string(pub), `"kid":"ed"`, `"kid":""`, 1) + `]}`, nil, "no usable key"},
		{"mismatched alg skipped", `{"keys":[` + strings.Replace(string(pub), `"kty"`, `"alg":"ES256","kty"`, 1) + `]}`, nil, "no usable key"},
		{"private key", `{"keys":[` + string(priv) + `]}`, nil, "is not a public key"},
		{"duplicate kid", `{"keys":[` + string(pub) + `,` + string(pub) + `]}`, nil, `two keys with kid "ed"`},
		{"empty set", `{"keys":[]}`, nil, "no usable key"},
		{"not JSON", `keys`, nil, "not a JWKS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keys, err := parseJWKS([]byte(tt.jwks))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != len(tt.wantKids) {
				t.Fatalf("keys %v, want %v", keys, tt.wantKids)
			}
			for _, kid := range tt.wantKids {
				if _, ok := keys[kid]; !ok {
					t.Errorf("no key %q", kid)
				}
			}
		})
	}
}
