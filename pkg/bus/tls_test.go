package bus_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/whistle-civic/whistle/pkg/bus"
)

// pki is a CA of a test's own and PEM files it signed.
type pki struct {
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// CA is the CA's certificate file.
	CA string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{dir: t.TempDir(), key: key}
	if p.cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.CA = p.write(t, "ca.pem", "CERTIFICATE", der)
	return p
}

// issue signs a certificate for 127.0.0.1 (a server's, or a client's) and
// returns its certificate and key files.
func (p *pki) issue(t *testing.T, name string, usage x509.ExtKeyUsage) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		KeyUsage: x509.KeyUsageDigitalSignature, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, key.Public(), p.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, name+".pem", "CERTIFICATE", der), p.write(t, name+"-key.pem", "EC PRIVATE KEY", kder)
}

func (p *pki) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// tlsServer runs a JetStream server on 127.0.0.1 that speaks TLS only,
// verifying client certificates when mutual is set, and returns its URL.
func tlsServer(t *testing.T, p *pki, mutual bool) string {
	t.Helper()
	certFile, keyFile := p.issue(t, "server", x509.ExtKeyUsageServerAuth)
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: certFile, KeyFile: keyFile, CaFile: p.CA, Verify: mutual})
	if err != nil {
		t.Fatal(err)
	}
	return startServer(t, &server.Options{TLS: true, TLSVerify: mutual, TLSConfig: tc, TLSTimeout: 2})
}

func TestConnectOverTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	plainURL, mutualURL := tlsServer(t, p, false), tlsServer(t, p, true)
	clientCert, clientKey := p.issue(t, "client", x509.ExtKeyUsageClientAuth)
	other := newPKI(t)
	for _, c := range []struct {
		name string
		url  string
		tls  bus.TLS
		want error // nil: connects; errAny: any error
	}{
		{"CA verifies the server", plainURL, bus.TLS{CA: p.CA}, nil},
		{"tls:// URL with the CA", strings.Replace(plainURL, "nats://", "tls://", 1), bus.TLS{CA: p.CA}, nil},
		{"no TLS to a TLS server", plainURL, bus.TLS{}, bus.ErrTLS},
		{"another CA", plainURL, bus.TLS{CA: other.CA}, bus.ErrTLS},
		{"mutual TLS with a client certificate", mutualURL, bus.TLS{CA: p.CA, Cert: clientCert, Key: clientKey}, nil},
		{"mutual TLS without one", mutualURL, bus.TLS{CA: p.CA}, errAny},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b, err := bus.Connect(context.Background(), bus.Config{URL: c.url, TLS: c.tls, ConnectWait: 3 * time.Second,
				Log: slog.New(slog.DiscardHandler)})
			switch {
			case c.want == nil && err != nil:
				t.Fatalf("Connect: %v", err)
			case c.want == nil:
				defer b.Close()
				if st, err := b.Conn().TLSConnectionState(); err != nil || !st.HandshakeComplete {
					t.Errorf("not connected over TLS: %v", err)
				}
			case err == nil:
				b.Close()
				t.Fatal("connected")
			case c.want != errAny && !errors.Is(err, c.want):
				t.Fatalf("Connect: %v, want %v", err, c.want)
			}
		})
	}
}

// errAny stands for any error in a table.
var errAny = errors.New("any error")

func TestConnectRefusesUnusableSettings(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing")
	for _, c := range []struct {
		name string
		cfg  bus.Config
		want string
	}{
		{"password without user", bus.Config{Auth: bus.Auth{Password: "p"}}, "WHISTLE_NATS_USER"},
		{"user without password", bus.Config{Auth: bus.Auth{User: "intake"}}, "WHISTLE_NATS_PASSWORD"},
		{"two ways at once", bus.Config{Auth: bus.Auth{User: "intake", Password: "p", CredsFile: missing}}, "not several"},
		{"missing creds file", bus.Config{Auth: bus.Auth{CredsFile: missing}}, "WHISTLE_NATS_CREDS"},
		{"missing nkey seed", bus.Config{Auth: bus.Auth{NKeySeedFile: missing}}, "WHISTLE_NATS_NKEY_SEED_FILE"},
		{"certificate without key", bus.Config{TLS: bus.TLS{Cert: missing}}, "WHISTLE_NATS_TLS_KEY"},
		{"missing CA", bus.Config{TLS: bus.TLS{CA: missing}}, "rootCA"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := bus.Connect(context.Background(), c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Connect: %v, want an error naming %s", err, c.want)
			}
			if time.Since(start) > time.Second {
				t.Errorf("took %s: a setting that cannot work fails at once", time.Since(start))
			}
		})
	}
}

func TestConfigLogShowsNoSecret(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	log := slog.New(slog.NewJSONHandler(&out, nil))
	log.Info("x", "bus", bus.Config{URL: "nats://u:url-secret@h1:4222,nats://u:url-secret@h2:4222",
		Auth: bus.Auth{User: "intake", Password: "pw-secret"}, TLS: bus.TLS{CA: "/ca.pem"}})
	if s := out.String(); strings.Contains(s, "secret") || !strings.Contains(s, `"method":"user"`) ||
		!strings.Contains(s, `"user":"intake"`) || !strings.Contains(s, `"tls":true`) || !strings.Contains(s, "h2:4222") {
		t.Fatalf("log line %s", s)
	}
}

// An nkey seed file and a .creds file (operator mode) log in too.
func TestConnectWithNKeyAndCreds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := user.Seed()
	pub, _ := user.PublicKey()
	seedFile := filepath.Join(dir, "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	nkeyURL := startServer(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	credsURL, credsFile := operatorServer(t, dir)
	for name, c := range map[string]bus.Config{
		"nkey":  {URL: nkeyURL, Auth: bus.Auth{NKeySeedFile: seedFile}},
		"creds": {URL: credsURL, Auth: bus.Auth{CredsFile: credsFile}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c.ConnectWait = 5 * time.Second
			b, err := bus.Connect(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			b.Close()
			c.Auth = bus.Auth{}
			if b, err := bus.Connect(context.Background(), c); !errors.Is(err, bus.ErrNotAuthorized) {
				if b != nil {
					b.Close()
				}
				t.Fatalf("without the %s: %v, want ErrNotAuthorized", name, err)
			}
		})
	}
}

// startServer runs a JetStream server on 127.0.0.1 with o's authorization.
func startServer(t *testing.T, o *server.Options) string {
	t.Helper()
	o.Host, o.Port, o.JetStream, o.StoreDir, o.NoLog, o.NoSigs = "127.0.0.1", server.RANDOM_PORT, true, t.TempDir(), true, true
	srv, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(srv.Shutdown)
	return srv.ClientURL()
}

// operatorServer runs a server in operator mode with one JetStream account
// and returns its URL and a .creds file of a user of that account.
func operatorServer(t *testing.T, dir string) (url, credsFile string) {
	t.Helper()
	op, _ := nkeys.CreateOperator()
	opPub, _ := op.PublicKey()
	acc, _ := nkeys.CreateAccount()
	accPub, _ := acc.PublicKey()
	usr, _ := nkeys.CreateUser()
	usrPub, _ := usr.PublicKey()
	usrSeed, _ := usr.Seed()
	ac := jwt.NewAccountClaims(accPub)
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	accJWT, err := ac.Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	uc := jwt.NewUserClaims(usrPub)
	uc.IssuerAccount = accPub
	usrJWT, err := uc.Encode(acc)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := jwt.FormatUserConfig(usrJWT, usrSeed)
	if err != nil {
		t.Fatal(err)
	}
	credsFile = filepath.Join(dir, "user.creds")
	if err := os.WriteFile(credsFile, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	sys, _ := nkeys.CreateAccount()
	sysPub, _ := sys.PublicKey()
	sysJWT, err := jwt.NewAccountClaims(sysPub).Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	resolver := &server.MemAccResolver{}
	for pub, claims := range map[string]string{accPub: accJWT, sysPub: sysJWT} {
		if err := resolver.Store(pub, claims); err != nil {
			t.Fatal(err)
		}
	}
	opClaims := jwt.NewOperatorClaims(opPub)
	opClaims.SystemAccount = sysPub
	return startServer(t, &server.Options{TrustedOperators: []*jwt.OperatorClaims{opClaims}, AccountResolver: resolver,
		SystemAccount: sysPub}), credsFile
}
