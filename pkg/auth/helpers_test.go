package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/apperr"
)

// base is the fixed "now" of the tests.
var base = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ ns atomic.Int64 }

func newClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// newTestSigner makes a signer of kind "ed25519", "p256" or "p384" with
// the given kid, issuing at base.
func newTestSigner(t *testing.T, kind, kid string) *Signer {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch kind {
	case "ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case "p256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	}
	if err != nil || priv == nil {
		t.Fatalf("generate %s key: %v", kind, err)
	}
	s, err := NewSigner(jose.JSONWebKey{Key: priv, KeyID: kid})
	if err != nil {
		t.Fatal(err)
	}
	s.Clock = func() time.Time { return base }
	return s
}

// writeJWKS writes a JWKS file holding the signers' public keys.
func writeJWKS(t *testing.T, path string, signers ...*Signer) {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, s := range signers {
		set.Keys = append(set.Keys, s.PublicJWK())
	}
	if err := writeSet(path, set); err != nil {
		t.Fatal(err)
	}
}

// signRaw signs arbitrary claims with s's key, bypassing Mint's checks.
func signRaw(t *testing.T, s *Signer, claims any) string {
	t.Helper()
	tok, err := jwt.Signed(s.jws).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// mustMint mints c with s.
func mustMint(t *testing.T, s *Signer, c Claims) string {
	t.Helper()
	tok, err := s.Mint(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// wantUnauthenticated checks that err is an authentication failure whose
// message contains want and not the token.
func wantUnauthenticated(t *testing.T, err error, want, token string) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatalf("no error, want one containing %q", want)
	case !errors.Is(err, ErrUnauthenticated):
		t.Errorf("error %q does not wrap ErrUnauthenticated", err)
	case apperr.KindOf(err) != apperr.Unauthenticated:
		t.Errorf("error %q has kind %v", err, apperr.KindOf(err))
	case status.Code(err) != codes.Unauthenticated:
		t.Errorf("error %q has gRPC code %v", err, status.Code(err))
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to contain %q", err, want)
	}
	if len(token) > 16 && strings.Contains(err.Error(), token) {
		t.Errorf("error %q echoes the token", err)
	}
}

// testCA is a certificate authority made for a test.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newCA(t *testing.T, name string) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return testCA{cert: cert, key: key}
}

// issue signs a leaf certificate for tmpl (subject and SANs filled in by
// the caller) and returns it with its key.
func (ca testCA) issue(t *testing.T, tmpl *x509.Certificate) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// writePEM writes a certificate and its key as PEM files in dir, named
// name.crt and name.key, and returns their paths.
func writePEM(t *testing.T, dir, name string, cert *x509.Certificate, key crypto.Signer) (certFile, keyFile string) {
	t.Helper()
	certFile = filepath.Join(dir, name+".crt")
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	if key == nil {
		return certFile, ""
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(dir, name+".key")
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	return certFile, keyFile
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// localhost is the server identity of the end-to-end test.
func localhost() *x509.Certificate {
	return &x509.Certificate{Subject: pkix.Name{CommonName: "whistle"}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
}
