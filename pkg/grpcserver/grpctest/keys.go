package grpctest

import (
	"context"
	"path/filepath"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/whistle-civic/whistle/pkg/auth"
)

// Keys is a signing key of a test's own, and the authenticator that
// verifies the bearer tokens it signs, for a server built as production's
// (grpcserver.Options.Auth).
type Keys struct {
	// Authenticator verifies the tokens of Token (audience "whistle").
	Authenticator *auth.Authenticator
	tb            testing.TB
	signer        *auth.Signer
}

// NewKeys makes a key in the test's temporary folder.
func NewKeys(tb testing.TB) *Keys {
	tb.Helper()
	keyFile, jwks, err := auth.NewDevKey(filepath.Join(tb.TempDir(), "auth"))
	if err != nil {
		tb.Fatal(err)
	}
	signer, err := auth.LoadSigner(keyFile)
	if err != nil {
		tb.Fatal(err)
	}
	verifier, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{JWKSFile: jwks, Audience: "whistle"})
	if err != nil {
		tb.Fatal(err)
	}
	return &Keys{Authenticator: &auth.Authenticator{Verifier: verifier}, tb: tb, signer: signer}
}

// As returns ctx carrying a token for a principal with one role, acting
// for an org unit, as a client sends it.
func (k *Keys) As(ctx context.Context, subject string, role auth.Role, orgUnit string) context.Context {
	k.tb.Helper()
	tok, err := k.signer.Mint(auth.Claims{Subject: subject, OrgUnit: orgUnit, Roles: []auth.Role{role}, Audience: "whistle"})
	if err != nil {
		k.tb.Fatal(err)
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}
