package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/grpc/credentials"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/events"
	"github.com/whistle-civic/whistle/pkg/natsserver"
)

// The suite runs the services as a deployment must: gRPC and NATS over TLS
// (a CA of the scenario's own, one certificate for 127.0.0.1), and each
// service logged in to NATS as its own user with its own permissions. The
// suite itself reads the streams as the operators' user.

// suiteUser is the NATS user the suite checks the streams as.
const suiteUser = "chaos"

// secrets are a scenario's CA, certificate and NATS passwords, as files.
type secrets struct {
	dir                   string
	ca, cert, key         string
	pool                  *x509.CertPool
	passwords, passwordOf map[string]string // by user: the password, its file
}

func newSecrets(dir string) (*secrets, error) {
	s := &secrets{dir: filepath.Join(dir, "secrets"), passwords: map[string]string{}, passwordOf: map[string]string{}}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, err
	}
	if err := s.makeCerts(); err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	for _, user := range append([]string{suiteUser}, events.Services...) {
		pw, err := natsserver.GeneratePassword()
		if err != nil {
			return nil, err
		}
		s.passwords[user], s.passwordOf[user] = pw, filepath.Join(s.dir, user+".password")
		if err := os.WriteFile(s.passwordOf[user], []byte(pw+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// makeCerts makes the CA and a certificate for 127.0.0.1 it signed.
func (s *secrets) makeCerts() error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	notAfter := time.Now().Add(24 * time.Hour)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "chaos CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	s.pool = x509.NewCertPool()
	s.pool.AddCert(caCert)
	for _, f := range []struct {
		path  *string
		name  string
		block *pem.Block
	}{
		{&s.ca, "ca.pem", &pem.Block{Type: "CERTIFICATE", Bytes: caDER}},
		{&s.cert, "cert.pem", &pem.Block{Type: "CERTIFICATE", Bytes: der}},
		{&s.key, "key.pem", &pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}},
	} {
		*f.path = filepath.Join(s.dir, f.name)
		if err := os.WriteFile(*f.path, pem.EncodeToMemory(f.block), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// natsConfig is the TLS and authorization part of every NATS node's
// configuration: a user per service with bus.PublishAllow's permissions,
// and the suite's with the operators'.
func (s *secrets) natsConfig() (string, error) {
	type perms struct {
		Publish map[string][]string `json:"publish"`
	}
	type user struct {
		User        string `json:"user"`
		Password    string `json:"password"`
		Permissions perms  `json:"permissions"`
	}
	users := []user{{suiteUser, s.passwords[suiteUser], perms{map[string][]string{"allow": bus.OperatorPublishAllow()}}}}
	for _, svc := range events.Services {
		users = append(users, user{svc, s.passwords[svc], perms{map[string][]string{"allow": bus.PublishAllow(svc, bus.Config{})}}})
	}
	// NATS configuration reads JSON (without \u escapes); quoted strings are never variables.
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(users); err != nil {
		return "", err
	}
	return fmt.Sprintf("tls { cert_file: %q, key_file: %q }\nauthorization { users: %s}\n", s.cert, s.key, b.String()), nil
}

// serviceEnv is what a service needs to serve gRPC over TLS and to log in
// to NATS over TLS as its own user.
func (s *secrets) serviceEnv(name string) []string {
	return []string{"WHISTLE_TLS_CERT=" + s.cert, "WHISTLE_TLS_KEY=" + s.key, "WHISTLE_NATS_TLS_CA=" + s.ca,
		"WHISTLE_NATS_USER=" + name, "WHISTLE_NATS_PASSWORD_FILE=" + s.passwordOf[name]}
}

// natsOptions connect the suite to NATS as its own user.
func (s *secrets) natsOptions() []nats.Option {
	return []nats.Option{nats.UserInfo(suiteUser, s.passwords[suiteUser]), nats.RootCAs(s.ca)}
}

// grpcCredentials verify the services' certificate.
func (s *secrets) grpcCredentials() credentials.TransportCredentials {
	return credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: s.pool, ServerName: "127.0.0.1"})
}
