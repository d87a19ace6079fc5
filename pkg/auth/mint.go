package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// DefaultTTL is how long a minted token lives unless Claims.TTL says otherwise.
const DefaultTTL = 12 * time.Hour

// Claims are what a minted token says.
type Claims struct {
	// Subject is the caller, e.g. "u-4711". Required.
	Subject string
	// OrgUnit is the org unit it acts for. Required, at most 64 bytes.
	OrgUnit string
	// Roles it holds. At least one.
	Roles []Role
	// Audience is the service the token is for, e.g. "whistle". Required.
	Audience string
	// Issuer names who minted it. Default: no "iss".
	Issuer string
	// TTL is how long the token is valid from NotBefore (or from now, if
	// NotBefore is earlier or unset). Default (zero): DefaultTTL (12 h).
	TTL time.Duration
	// NotBefore is when the token starts being valid. Default: now.
	NotBefore time.Time
}

// Signer mints tokens with a private key (Ed25519: EdDSA; ECDSA P-256:
// ES256; P-384: ES384). Tokens name the key by its kid.
type Signer struct {
	// Clock tells the time tokens are issued at. Default (nil): time.Now.
	Clock func() time.Time

	key jose.JSONWebKey // private, with a kid
	jws jose.Signer
}

// LoadSigner reads a private JWK (JSON, with "kid") from path.
func LoadSigner(path string) (*Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load signing key: %w", err)
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("load signing key %s: not a JWK: %w", path, err)
	}
	s, err := NewSigner(k)
	if err != nil {
		return nil, fmt.Errorf("load signing key %s: %w", path, err)
	}
	return s, nil
}

// NewSigner returns a signer for a private JWK with a kid.
func NewSigner(k jose.JSONWebKey) (*Signer, error) {
	alg, ok := keyAlg(k.Key)
	switch {
	case k.IsPublic():
		return nil, errors.New("the key is public: a signer needs the private key")
	case !ok || !k.Valid():
		return nil, errors.New("not an Ed25519 or ECDSA P-256/P-384 private key")
	case k.KeyID == "":
		return nil, errors.New(`the key has no "kid": give it one, verifiers look keys up by it`)
	}
	jws, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	return &Signer{key: k, jws: jws}, nil
}

// NewDevKey creates an Ed25519 key pair with a random kid in dir (made if
// missing, 0700): the private JWK in signer-<kid>.json (0600) and its public
// key appended to jwks.json (created if missing, 0644). Calling it again in
// the same dir adds a second key, as for a rotation; retire the old one with
// RemoveFromJWKS.
func NewDevKey(dir string) (signerPath, jwksPath string, err error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("generate key: %w", err)
	}
	id := make([]byte, 8)
	rand.Read(id)
	s, err := NewSigner(jose.JSONWebKey{Key: priv, KeyID: "dev-" + hex.EncodeToString(id), Use: "sig", Algorithm: string(jose.EdDSA)})
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("dev key: %w", err)
	}
	signerPath = filepath.Join(dir, "signer-"+s.KeyID()+".json")
	jwksPath = filepath.Join(dir, "jwks.json")
	data, err := json.MarshalIndent(s.key, "", "  ")
	if err != nil {
		return "", "", fmt.Errorf("encode key: %w", err)
	}
	if err := writeFileAtomic(signerPath, append(data, '\n'), 0o600); err != nil {
		return "", "", err
	}
	if err := AddToJWKS(jwksPath, s.PublicJWK()); err != nil {
		return "", "", err
	}
	return signerPath, jwksPath, nil
}

// KeyID returns the kid tokens of this signer carry.
func (s *Signer) KeyID() string { return s.key.KeyID }

// PublicJWK returns the public half of the signing key, with its kid, to
// publish in a JWKS (see AddToJWKS).
func (s *Signer) PublicJWK() jose.JSONWebKey { return s.key.Public() }

// Mint signs a token for c. It refuses claims a Verifier would refuse:
// no subject, no or too long org unit, no or unknown roles or the
// resident's, no audience, a negative TTL. (A TTL beyond the verifier's
// MaxLifetime is minted, and refused where it is presented.)
func (s *Signer) Mint(c Claims) (string, error) {
	tc, err := s.claims(c)
	if err != nil {
		return "", err
	}
	tok, err := jwt.Signed(s.jws).Claims(tc).Serialize()
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return tok, nil
}

// claims checks c and turns it into a token's payload.
func (s *Signer) claims(c Claims) (tokenClaims, error) {
	switch {
	case c.Subject == "" || len(c.Subject) > MaxSubjectLen:
		return tokenClaims{}, fmt.Errorf("mint: set a subject of 1 to %d bytes", MaxSubjectLen)
	case c.OrgUnit == "" || len(c.OrgUnit) > MaxOrgUnitLen:
		return tokenClaims{}, fmt.Errorf("mint: set an org unit id of 1 to %d bytes", MaxOrgUnitLen)
	case len(c.Roles) == 0:
		return tokenClaims{}, errors.New("mint: give at least one role")
	case c.Audience == "":
		return tokenClaims{}, errors.New(`mint: set the audience, e.g. "whistle"`)
	case c.TTL < 0:
		return tokenClaims{}, errors.New("mint: the TTL must not be negative")
	}
	roles := make([]string, len(c.Roles))
	for i, r := range c.Roles {
		roles[i] = string(r)
	}
	if _, err := parseRoles(roles); err != nil {
		return tokenClaims{}, fmt.Errorf("mint: %w", err)
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	now := s.now()
	start := now
	if c.NotBefore.After(now) {
		start = c.NotBefore
	}
	return tokenClaims{
		Claims: jwt.Claims{Subject: c.Subject, Issuer: c.Issuer, Audience: jwt.Audience{c.Audience},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(start), Expiry: jwt.NewNumericDate(start.Add(c.TTL))},
		OrgUnit: c.OrgUnit,
		Roles:   roles,
	}, nil
}

func (s *Signer) now() time.Time {
	if s.Clock != nil {
		return s.Clock()
	}
	return time.Now()
}
