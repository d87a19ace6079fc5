package auth_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/whistle-civic/whistle/pkg/auth"
)

// ExampleSigner_Mint mints a token, shows its decoded header and claims,
// and verifies it.
func ExampleSigner_Mint() {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)) // a fixed key, for the example only
	signer, _ := auth.NewSigner(jose.JSONWebKey{Key: key, KeyID: "dev-1a2b3c4d", Use: "sig", Algorithm: "EdDSA"})
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	signer.Clock = func() time.Time { return now }
	token, _ := signer.Mint(auth.Claims{Subject: "u-4711", OrgUnit: "community-12",
		Roles: []auth.Role{auth.RoleCommunityOfficer}, Audience: "whistle", Issuer: "whistle-dev"})
	for _, part := range strings.Split(token, ".")[:2] {
		decoded, _ := base64.RawURLEncoding.DecodeString(part)
		fmt.Println(string(decoded))
	}

	dir, _ := os.MkdirTemp("", "jwks")
	defer os.RemoveAll(dir)
	jwks := filepath.Join(dir, "jwks.json")
	_ = auth.AddToJWKS(jwks, signer.PublicJWK())
	v, _ := auth.NewVerifier(context.Background(), auth.VerifierConfig{JWKSFile: jwks, Audience: "whistle",
		Issuer: "whistle-dev", Clock: func() time.Time { return now.Add(time.Hour) }})
	p, err := v.Verify(token)
	fmt.Printf("%+v %v\n", p, err)
	// Output:
	// {"alg":"EdDSA","kid":"dev-1a2b3c4d","typ":"JWT"}
	// {"aud":"whistle","exp":1772398800,"iat":1772355600,"iss":"whistle-dev","nbf":1772355600,"org":"community-12","roles":["community_officer"],"sub":"u-4711"}
	// {Subject:u-4711 OrgUnit:community-12 Roles:[community_officer] Via:jwt} <nil>
}
