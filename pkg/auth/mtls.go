package auth

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// CertMap maps client certificate identities to principals. Its YAML form:
//
//	clients:
//	  - match: uri:spiffe://city/intake     # a URI SAN
//	    org_unit: city
//	    roles: [system]
//	  - match: dns:gov-hotline.example      # a DNS SAN (case-insensitive)
//	    org_unit: city
//	    roles: [system]
//	  - match: cn:hotline-gateway           # the subject common name
//	    org_unit: district-3
//	    roles: [system, monitor]
type CertMap struct {
	byIdentity map[string]certEntry
}

// certEntry is what a mapped identity becomes.
type certEntry struct {
	orgUnit string
	roles   []Role
}

// certFile is the YAML form of a CertMap.
type certFile struct {
	Clients []struct {
		Match   string   `yaml:"match"`
		OrgUnit string   `yaml:"org_unit"`
		Roles   []string `yaml:"roles"`
	} `yaml:"clients"`
}

// LoadCertMap reads a certificate map from a YAML file (see CertMap).
func LoadCertMap(path string) (*CertMap, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("client certificate map: %w", err)
	}
	m, err := ParseCertMap(data)
	if err != nil {
		return nil, fmt.Errorf("client certificate map %s: %w", path, err)
	}
	return m, nil
}

// ParseCertMap reads a certificate map from YAML (see CertMap). Unknown
// fields, a match without a known prefix, a duplicate match, a missing or
// too long org unit, and missing or unknown roles are errors.
func ParseCertMap(data []byte) (*CertMap, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f certFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: it is YAML with a list \"clients\" of {match, org_unit, roles}", err)
	}
	m := &CertMap{byIdentity: make(map[string]certEntry, len(f.Clients))}
	for i, c := range f.Clients {
		id, err := normalizeMatch(c.Match)
		if err != nil {
			return nil, fmt.Errorf("client %d: %w", i+1, err)
		}
		if _, dup := m.byIdentity[id]; dup {
			return nil, fmt.Errorf("client %d: %q is mapped twice: keep one entry", i+1, c.Match)
		}
		if c.OrgUnit == "" || len(c.OrgUnit) > MaxOrgUnitLen {
			return nil, fmt.Errorf("client %d (%s): set org_unit, an org unit id of 1 to %d bytes", i+1, id, MaxOrgUnitLen)
		}
		roles, err := parseRoles(c.Roles)
		if err != nil {
			return nil, fmt.Errorf("client %d (%s): roles: %w", i+1, id, err)
		}
		m.byIdentity[id] = certEntry{orgUnit: c.OrgUnit, roles: roles}
	}
	return m, nil
}

// normalizeMatch checks a "uri:", "dns:" or "cn:" identity and lowercases
// DNS names.
func normalizeMatch(s string) (string, error) {
	kind, value, ok := strings.Cut(s, ":")
	if !ok || value == "" || (kind != "uri" && kind != "dns" && kind != "cn") {
		return "", fmt.Errorf("match %q: write uri:<URI SAN>, dns:<DNS SAN> or cn:<common name>", s)
	}
	if kind == "dns" {
		value = strings.ToLower(value)
	}
	return kind + ":" + value, nil
}

// Principal returns the principal a verified client certificate maps to,
// Via "mtls", with Subject the matched identity (e.g.
// "uri:spiffe://city/intake"). URI SANs are tried first, then DNS SANs,
// then the common name. It does not verify the certificate: pass only
// certificates from verified chains. An unmapped certificate is an error
// wrapping ErrUnauthenticated.
func (m *CertMap) Principal(cert *x509.Certificate) (Principal, error) {
	for _, id := range identities(cert) {
		if e, ok := m.byIdentity[id]; ok {
			return Principal{Subject: id, OrgUnit: e.orgUnit, Roles: slices.Clone(e.roles), Via: "mtls"}, nil
		}
	}
	return Principal{}, unauthenticated("client certificate %q is not in the client certificate map: add one of its identities (uri:, dns: or cn:) there, or send a bearer token", clip(cert.Subject.String()))
}

// identities lists a certificate's identities in the order they are tried.
func identities(cert *x509.Certificate) []string {
	var ids []string
	for _, u := range cert.URIs {
		ids = append(ids, "uri:"+u.String())
	}
	for _, d := range cert.DNSNames {
		ids = append(ids, "dns:"+strings.ToLower(d))
	}
	if cert.Subject.CommonName != "" {
		ids = append(ids, "cn:"+cert.Subject.CommonName)
	}
	return ids
}

// ServerTLS returns a server TLS configuration (TLS 1.2 or later) with the
// certificate in certFile and keyFile (PEM). With clientCAFile, client
// certificates are verified against its CAs: required if requireClientCert,
// else checked when a client sends one. requireClientCert without
// clientCAFile is an error.
func ServerTLS(certFile, keyFile, clientCAFile string, requireClientCert bool) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("server TLS: certificate and key: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if clientCAFile == "" {
		if requireClientCert {
			return nil, errors.New("server TLS: client certificates are required but no client CA file is set: set one")
		}
		return cfg, nil
	}
	if cfg.ClientCAs, err = loadPool(clientCAFile); err != nil {
		return nil, fmt.Errorf("server TLS: client CAs: %w", err)
	}
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	if requireClientCert {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ClientTLS returns a client TLS configuration (TLS 1.2 or later) that
// trusts the CAs in caFile (default, when empty: the system's) and, when
// certFile and keyFile are set, presents that client certificate. Setting
// only one of them is an error.
func ClientTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := loadPool(caFile)
		if err != nil {
			return nil, fmt.Errorf("client TLS: CAs: %w", err)
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("client TLS: set both the client certificate and its key, or neither")
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client TLS: client certificate and key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// loadPool reads PEM certificates into a pool; a file without any is an error.
func loadPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
