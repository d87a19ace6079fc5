package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"gopkg.in/yaml.v3"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/services/dispatch"
	"github.com/whistle-civic/whistle/services/evaluation"
)

// audience is what Whistle's tokens must be for, unless WHISTLE_JWT_AUDIENCE says otherwise.
const audience = "whistle"

// devIssuer is the issuer of the tokens `whistle dev` mints, and the only
// one it accepts.
const devIssuer = "whistle-dev"

// authenticator builds who-is-calling from the configuration: bearer tokens
// verified against WHISTLE_JWKS and, when WHISTLE_CLIENT_CERTS maps them,
// client certificates. Residents judging with a one-time code need neither.
func (c config) authenticator(ctx context.Context) (*auth.Authenticator, error) {
	if c.JWKS == "" {
		return nil, errors.New("WHISTLE_JWKS is not set: point it at the JWKS file or URL holding the keys tokens are signed with " +
			"(`whistle dev` makes one in its data folder)")
	}
	if c.JWTMaxLifetime <= 0 {
		return nil, fmt.Errorf("WHISTLE_JWT_MAX_LIFETIME is %s: set a positive duration, e.g. 24h", c.JWTMaxLifetime)
	}
	vc := auth.VerifierConfig{Audience: c.JWTAudience, Issuer: c.JWTIssuer, MaxLifetime: c.JWTMaxLifetime}
	if len(c.JWKS) > 8 && (c.JWKS[:7] == "http://" || c.JWKS[:8] == "https://") {
		vc.JWKSURL = c.JWKS
	} else {
		vc.JWKSFile = c.JWKS
	}
	v, err := auth.NewVerifier(ctx, vc)
	if err != nil {
		return nil, fmt.Errorf("WHISTLE_JWKS: %w", err)
	}
	a := &auth.Authenticator{Verifier: v, Public: c.public, Anonymous: func(_ context.Context, method string, req any) (auth.Principal, bool) {
		return evaluation.Resident(method, req)
	}}
	if c.ClientCerts != "" {
		if a.Certs, err = auth.LoadCertMap(c.ClientCerts); err != nil {
			return nil, fmt.Errorf("WHISTLE_CLIENT_CERTS: %w", err)
		}
	}
	return a, nil
}

// public names the calls anyone may make: health checks, and in dev (on
// loopback) reflection. In serve reflection, when on (WHISTLE_REFLECTION),
// needs credentials like every other call.
func (c config) public(method string) bool {
	return hasPrefix(method, "/grpc.health.v1.Health/") || (c.dev && hasPrefix(method, "/grpc.reflection."))
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// serverTLS returns the server's TLS credentials when WHISTLE_TLS_CERT is set.
func (c config) serverTLS() ([]grpc.ServerOption, error) {
	if c.TLSCert == "" {
		if c.TLSClientCA != "" || c.ClientCerts != "" {
			return nil, errors.New("WHISTLE_TLS_CLIENT_CA and WHISTLE_CLIENT_CERTS need TLS: set WHISTLE_TLS_CERT and WHISTLE_TLS_KEY")
		}
		return nil, nil
	}
	tc, err := auth.ServerTLS(c.TLSCert, c.TLSKey, c.TLSClientCA, false)
	if err != nil {
		return nil, fmt.Errorf("WHISTLE_TLS_*: %w", err)
	}
	return []grpc.ServerOption{grpc.Creds(credentials.NewTLS(tc))}, nil
}

// devAuth sets up authentication for `whistle dev` unless WHISTLE_JWKS names
// keys: a signing key, sample tokens and a whistlectl config in the data
// folder. It returns the whistlectl config's path ("" when not made).
func (c *config) devAuth(data, addr string) (string, error) {
	if c.JWKS != "" {
		return "", nil
	}
	cat, err := c.catalog()
	if err != nil {
		return "", err
	}
	if cat == nil {
		if cat, err = dispatch.ParseCatalog(dispatch.SampleCatalog); err != nil {
			return "", err
		}
	}
	jwks, ctl, err := c.devKit(data, addr, cat)
	if err != nil {
		return "", fmt.Errorf("dev credentials in %s: %w", data, err)
	}
	c.JWKS, c.JWTAudience, c.JWTIssuer = jwks, audience, devIssuer
	return ctl, nil
}

// devUser is a sample user `whistle dev` writes a token for.
type devUser struct {
	name    string
	role    auth.Role
	orgUnit string
}

// devKit makes (or reuses) the signing key of `whistle dev` in <data>/auth,
// writes a token for a sample user of each role and a whistlectl config
// using them, and returns the JWKS path to verify with and the config path.
func (c *config) devKit(data, addr string, cat *dispatch.Catalog) (jwks, ctlConfig string, err error) {
	dir := filepath.Join(data, "auth")
	signerPath, jwks, err := devKey(dir)
	if err != nil {
		return "", "", err
	}
	signer, err := auth.LoadSigner(signerPath)
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(filepath.Join(dir, "tokens"), 0o700); err != nil {
		return "", "", err
	}
	for _, u := range devUsers(cat) {
		tok, err := signer.Mint(auth.Claims{Subject: "dev-" + u.name, OrgUnit: u.orgUnit, Roles: []auth.Role{u.role},
			Audience: audience, Issuer: devIssuer, TTL: c.JWTMaxLifetime})
		if err != nil {
			return "", "", fmt.Errorf("token for %s: %w", u.name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, "tokens", u.name+".jwt"), []byte(tok+"\n"), 0o600); err != nil {
			return "", "", err
		}
	}
	ctl := map[string]string{"addr": addr, "token_file": filepath.Join("auth", "tokens", "admin.jwt"),
		"signing_key": filepath.Join("auth", filepath.Base(signerPath)), "city": cityOf(cat), "issuer": devIssuer}
	b, err := yaml.Marshal(ctl)
	if err != nil {
		return "", "", err
	}
	ctlConfig = filepath.Join(data, "whistlectl.yaml")
	return jwks, ctlConfig, os.WriteFile(ctlConfig, append([]byte("# written by `whistle dev`: whistlectl --config "+ctlConfig+"\n"), b...), 0o600)
}

// devKey returns the dev signing key and JWKS in dir, made on first use.
func devKey(dir string) (signerPath, jwks string, err error) {
	jwks = filepath.Join(dir, "jwks.json")
	if matches, _ := filepath.Glob(filepath.Join(dir, "signer-*.json")); len(matches) > 0 {
		if _, err := os.Stat(jwks); err == nil {
			return matches[0], jwks, nil
		}
	}
	signerPath, jwks, err = auth.NewDevKey(dir)
	if err != nil {
		return "", "", fmt.Errorf("dev signing key in %s: %w", dir, err)
	}
	return signerPath, jwks, nil
}

// devUsers picks a sample user of each role from the catalog: the first
// grid and the community, street above it, the first department, the city.
func devUsers(cat *dispatch.Catalog) []devUser {
	city := cityOf(cat)
	var grid string
	for _, u := range cat.Units() {
		if u.Level == dispatch.LevelGrid {
			grid = u.ID
			break
		}
	}
	path := cat.Path(grid) // grid, community, street, district, city
	at := func(i int) string {
		if i < len(path) {
			return path[i]
		}
		return city
	}
	dept := city
	if ds := cat.Departments(); len(ds) > 0 {
		dept = ds[0].ID
		for _, d := range ds {
			if d.OrgUnitID == at(3) { // a department of the grid's district
				dept = d.ID
				break
			}
		}
	}
	return []devUser{{"reporter", auth.RoleReporter, at(0)}, {"community", auth.RoleCommunityOfficer, at(1)},
		{"street", auth.RoleStreetOfficer, at(2)}, {"handler", auth.RoleDepartmentHandler, dept},
		{"lead", auth.RoleDepartmentLead, dept}, {"monitor", auth.RoleMonitor, city}, {"admin", auth.RoleAdmin, city},
		{"system", auth.RoleSystem, city}}
}

func cityOf(cat *dispatch.Catalog) string {
	for _, u := range cat.Units() {
		if u.Level == dispatch.LevelCity {
			return u.ID
		}
	}
	return ""
}
