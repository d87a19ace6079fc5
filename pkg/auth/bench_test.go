package auth_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/whistle-civic/whistle/pkg/auth"
)

// benchVerifier returns a verifier of a fresh Ed25519 dev key's JWKS (the
// kind of key whistlectl mints with) and a signer for that key.
func benchVerifier(b *testing.B) (*auth.Verifier, *auth.Signer) {
	b.Helper()
	signerPath, jwksPath, err := auth.NewDevKey(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	s, err := auth.LoadSigner(signerPath)
	if err != nil {
		b.Fatal(err)
	}
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{JWKSFile: jwksPath, Audience: "whistle"})
	if err != nil {
		b.Fatal(err)
	}
	return v, s
}

// benchClaims are a community officer's claims; n makes the subject, and so
// the token, unique.
func benchClaims(n int) auth.Claims {
	return auth.Claims{Subject: "u-" + strconv.Itoa(n), OrgUnit: "xc-hd-dj", Roles: []auth.Role{auth.RoleCommunityOfficer},
		Audience: "whistle", Issuer: "https://id.city.example"}
}

// BenchmarkVerify measures Verifier.Verify of an Ed25519-signed token.
// "first sight" verifies a token not seen before on every call, so the
// signature is checked; "repeat" verifies the same token again, whose
// signature the verifier remembers (cache.go), so only the claims are
// checked.
func BenchmarkVerify(b *testing.B) {
	v, s := benchVerifier(b)
	minted := 0 // across the runs of "first sight", so no token comes twice
	b.Run("first sight", func(b *testing.B) {
		tokens := make([]string, b.N)
		for i := range tokens {
			minted++
			tok, err := s.Mint(benchClaims(minted))
			if err != nil {
				b.Fatal(err)
			}
			tokens[i] = tok
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := v.Verify(tokens[i]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("repeat", func(b *testing.B) {
		tok, err := s.Mint(benchClaims(-1))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
