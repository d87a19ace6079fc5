package auth

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const testCertMap = `
clients:
  - match: uri:spiffe://city/intake
    org_unit: city
    roles: [system]
  - match: dns:Gov-Hotline.example
    org_unit: city
    roles: [system, monitor]
  - match: cn:hotline-gateway
    org_unit: district-3
    roles: [system]
`

func spiffe(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestCertMapPrincipal(t *testing.T) {
	t.Parallel()
	m, err := ParseCertMap([]byte(testCertMap))
	if err != nil {
		t.Fatal(err)
	}
	ca := newCA(t, "city CA")
	tests := []struct {
		name    string
		tmpl    *x509.Certificate
		subject string
		org     string
		roles   []Role
		wantErr string
	}{
		{"URI SAN", &x509.Certificate{URIs: []*url.URL{spiffe(t, "spiffe://city/intake")}},
			"uri:spiffe://city/intake", "city", []Role{RoleSystem}, ""},
		{"DNS SAN, any case", &x509.Certificate{DNSNames: []string{"gov-hotline.EXAMPLE"}},
			"dns:gov-hotline.example", "city", []Role{RoleSystem, RoleMonitor}, ""},
		{"common name", &x509.Certificate{Subject: pkix.Name{CommonName: "hotline-gateway"}},
			"cn:hotline-gateway", "district-3", []Role{RoleSystem}, ""},
		{"URI SAN before common name", &x509.Certificate{Subject: pkix.Name{CommonName: "hotline-gateway"},
			URIs: []*url.URL{spiffe(t, "spiffe://city/intake")}}, "uri:spiffe://city/intake", "city", []Role{RoleSystem}, ""},
		{"unmapped SAN, mapped common name", &x509.Certificate{Subject: pkix.Name{CommonName: "hotline-gateway"},
			DNSNames: []string{"other.example"}}, "cn:hotline-gateway", "district-3", []Role{RoleSystem}, ""},
		{"URI is exact", &x509.Certificate{URIs: []*url.URL{spiffe(t, "spiffe://city/intake/x")}},
			"", "", nil, "is not in the client certificate map"},
		{"unknown", &x509.Certificate{Subject: pkix.Name{CommonName: "stranger"}, DNSNames: []string{"stranger.example"}},
			"", "", nil, `"CN=stranger" is not in the client certificate map`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cert, _ := ca.issue(t, tt.tmpl)
			p, err := m.Principal(cert)
			if tt.wantErr != "" {
				wantUnauthenticated(t, err, tt.wantErr, "")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Subject != tt.subject || p.OrgUnit != tt.org || !slices.Equal(p.Roles, tt.roles) || p.Via != "mtls" {
				t.Errorf("principal %+v, want subject %s, org %s, roles %v", p, tt.subject, tt.org, tt.roles)
			}
		})
	}
}

func TestParseCertMapRefuses(t *testing.T) {
	t.Parallel()
	entry := func(match, org, roles string) string {
		return "clients:\n  - match: " + match + "\n    org_unit: " + org + "\n    roles: " + roles + "\n"
	}
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"no prefix", entry("spiffe://city/intake", "city", "[system]"), "write uri:<URI SAN>"},
		{"unknown prefix", entry("ip:10.0.0.1", "city", "[system]"), "write uri:<URI SAN>"},
		{"empty value", entry(`"cn:"`, "city", "[system]"), "write uri:<URI SAN>"},
		{"duplicate, DNS case-insensitive", entry("dns:a.example", "city", "[system]") +
			"  - match: dns:A.example\n    org_unit: city\n    roles: [system]\n", "mapped twice"},
		{"no org unit", entry("cn:x", `""`, "[system]"), "set org_unit"},
		{"org unit too long", entry("cn:x", strings.Repeat("o", 65), "[system]"), "set org_unit"},
		{"no roles", entry("cn:x", "city", "[]"), "no roles"},
		{"unknown role", entry("cn:x", "city", "[mayor]"), `unknown role "mayor"`},
		{"the resident's role", entry("cn:x", "city", "[resident]"), `role "resident"`},
		{"unknown field", entry("cn:x", "city", "[system]") + "    role: admin\n", "field role not found"},
		{"not YAML of the form", "- a\n- b\n", "a list \"clients\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := ParseCertMap([]byte(tt.yaml)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestLoadCertMap(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "clients.yaml")
	writeFile(t, path, []byte(testCertMap))
	m, err := LoadCertMap(path)
	if err != nil || len(m.byIdentity) != 3 {
		t.Fatalf("LoadCertMap: %v, %d entries", err, len(m.byIdentity))
	}
	if _, err := LoadCertMap(path + ".none"); err == nil {
		t.Error("a missing file loads")
	}
}

func TestTLSConfigs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newCA(t, "city CA")
	caFile, _ := writePEM(t, dir, "ca", ca.cert, nil)
	cert, key := ca.issue(t, localhost())
	certFile, keyFile := writePEM(t, dir, "server", cert, key)
	tests := []struct {
		name       string
		config     func() (*tls.Config, error)
		want       string // part of the error; "" for success
		clientAuth tls.ClientAuthType
	}{
		{"server, no client certs", func() (*tls.Config, error) { return ServerTLS(certFile, keyFile, "", false) }, "", tls.NoClientCert},
		{"server, optional client certs", func() (*tls.Config, error) { return ServerTLS(certFile, keyFile, caFile, false) }, "", tls.VerifyClientCertIfGiven},
		{"server, required client certs", func() (*tls.Config, error) { return ServerTLS(certFile, keyFile, caFile, true) }, "", tls.RequireAndVerifyClientCert},
		{"server, required without CA", func() (*tls.Config, error) { return ServerTLS(certFile, keyFile, "", true) }, "no client CA file is set", 0},
		{"server, CA file without certificates", func() (*tls.Config, error) { return ServerTLS(certFile, keyFile, keyFile, false) }, "holds no PEM certificate", 0},
		{"server, missing key", func() (*tls.Config, error) { return ServerTLS(certFile, keyFile+".none", "", false) }, "certificate and key", 0},
		{"client, CA only", func() (*tls.Config, error) { return ClientTLS(caFile, "", "") }, "", 0},
		{"client, system CAs and a certificate", func() (*tls.Config, error) { return ClientTLS("", certFile, keyFile) }, "", 0},
		{"client, certificate without key", func() (*tls.Config, error) { return ClientTLS(caFile, certFile, "") }, "both the client certificate and its key", 0},
		{"client, missing CA file", func() (*tls.Config, error) { return ClientTLS(caFile+".none", "", "") }, "client TLS: CAs", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := tt.config()
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want one containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.MinVersion != tls.VersionTLS12 || cfg.ClientAuth != tt.clientAuth {
				t.Errorf("min version %x, client auth %v", cfg.MinVersion, cfg.ClientAuth)
			}
		})
	}
}
