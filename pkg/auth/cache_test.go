package auth

import (
	"crypto/sha256"
	"path/filepath"
	"testing"
	"time"
)

// TestVerifiedTokenIsStillCheckedOnEveryCall: a token whose signature was
// checked once is not checked again, but its claims are: once it expires it
// is refused like any expired token.
func TestVerifiedTokenIsStillCheckedOnEveryCall(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t, "ed25519", "k1")
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	writeJWKS(t, jwks, s)
	clock := newClock(base)
	v, err := NewVerifier(t.Context(), VerifierConfig{JWKSFile: jwks, Audience: "whistle", Clock: clock.Now, Refresh: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c := officer()
	c.TTL = 10 * time.Minute
	tok := mustMint(t, s, c)
	verifies(t, v, tok)
	if _, ok := v.verified.get(v.keys.Load(), sha256.Sum256([]byte(tok))); !ok {
		t.Fatal("a verified token was not remembered")
	}
	verifies(t, v, tok)
	clock.Advance(time.Hour)
	_, err = v.Verify(tok)
	wantUnauthenticated(t, err, "expired", tok)
	// A token altered after another verified is not taken for it.
	forged := tok[:len(tok)-4] + "AAAA"
	_, err = v.Verify(forged)
	wantUnauthenticated(t, err, "signature does not verify", forged)
}
