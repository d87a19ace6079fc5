package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/whistle-civic/whistle/pkg/auth"

	"github.com/whistle-civic/whistle/cmd/internal/console"
)

// TestConsoleOIDCFromTheEnvironment: WHISTLE_CONSOLE_OIDC_* and
// WHISTLE_CONSOLE_SIGNING_KEY make the console's sign-in with the city's
// identity provider; what cannot work is refused at start, naming the
// variable to fix; the console's key must make tokens WHISTLE_JWKS
// verifies.
func TestConsoleOIDCFromTheEnvironment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key, jwks, err := auth.NewDevKey(filepath.Join(dir, "auth"))
	if err != nil {
		t.Fatal(err)
	}
	stranger, _, err := auth.NewDevKey(filepath.Join(dir, "elsewhere"))
	if err != nil {
		t.Fatal(err)
	}
	secretFile, emptyFile := filepath.Join(dir, "secret"), filepath.Join(dir, "empty")
	if err := os.WriteFile(secretFile, []byte("s3cret-from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(emptyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	vars := func(extra ...string) map[string]string {
		m := map[string]string{"WHISTLE_CONSOLE_OIDC_ISSUER": "https://idp.city.example/", "WHISTLE_CONSOLE_OIDC_CLIENT_ID": "whistle-console",
			"WHISTLE_CONSOLE_OIDC_CLIENT_SECRET": "s3cret", "WHISTLE_CONSOLE_OIDC_REDIRECT_URL": "https://console.city.example/login/callback",
			"WHISTLE_CONSOLE_SIGNING_KEY": key}
		for i := 0; i+1 < len(extra); i += 2 {
			if extra[i+1] == "" {
				delete(m, extra[i])
			} else {
				m[extra[i]] = extra[i+1]
			}
		}
		return m
	}
	conn, err := grpc.NewClient("127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials())) // never called
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	serve := config{JWKS: jwks, JWTAudience: "whistle", JWTMaxLifetime: 24 * time.Hour}
	dev := serve
	dev.dev, dev.JWTIssuer = true, devIssuer
	for _, tt := range []struct {
		name string
		vars map[string]string
		cfg  config
		want string // in the error; "" for none
		none bool   // no OIDC at all
		ttl  time.Duration
	}{
		{name: "none", vars: map[string]string{}, cfg: serve, none: true},
		{name: "a full configuration", vars: vars(), cfg: serve, ttl: 8 * time.Hour},
		{name: "a client id without an issuer", vars: vars("WHISTLE_CONSOLE_OIDC_ISSUER", ""), cfg: serve, want: "WHISTLE_CONSOLE_OIDC_ISSUER is not set"},
		{name: "no client id", vars: vars("WHISTLE_CONSOLE_OIDC_CLIENT_ID", ""), cfg: serve, want: "WHISTLE_CONSOLE_OIDC_CLIENT_ID is not set"},
		{name: "a secret twice", vars: vars("WHISTLE_CONSOLE_OIDC_CLIENT_SECRET_FILE", secretFile), cfg: serve, want: "not both"},
		{name: "an empty secret file", vars: vars("WHISTLE_CONSOLE_OIDC_CLIENT_SECRET", "", "WHISTLE_CONSOLE_OIDC_CLIENT_SECRET_FILE", emptyFile), cfg: serve,
			want: "is empty: put the console's client secret in it"},
		{name: "no redirect URL in serve", vars: vars("WHISTLE_CONSOLE_OIDC_REDIRECT_URL", ""), cfg: serve, want: "WHISTLE_CONSOLE_OIDC_REDIRECT_URL is not set"},
		{name: "a redirect URL that is no callback", vars: vars("WHISTLE_CONSOLE_OIDC_REDIRECT_URL", "https://console.city.example/"), cfg: serve,
			want: "must be the console's /login/callback"},
		{name: "no signing key in serve", vars: vars("WHISTLE_CONSOLE_SIGNING_KEY", ""), cfg: serve, want: "WHISTLE_CONSOLE_SIGNING_KEY is not set"},
		{name: "a key the JWKS does not hold", vars: vars("WHISTLE_CONSOLE_SIGNING_KEY", stranger), cfg: serve, want: "add its public half to WHISTLE_JWKS"},
		{name: "dev: its own key and address", vars: vars("WHISTLE_CONSOLE_SIGNING_KEY", "", "WHISTLE_CONSOLE_OIDC_REDIRECT_URL", ""), cfg: dev, ttl: 8 * time.Hour},
		{name: "a lifetime within the tokens' maximum", vars: vars("WHISTLE_CONSOLE_TOKEN_TTL", "12h"),
			cfg: config{JWKS: jwks, JWTAudience: "whistle", JWTMaxLifetime: time.Hour}, ttl: time.Hour},
		{name: "a lifetime of nothing", vars: vars("WHISTLE_CONSOLE_TOKEN_TTL", "0s"), cfg: serve, want: "WHISTLE_CONSOLE_TOKEN_TTL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var oe consoleOIDCEnv
			if err := env.ParseWithOptions(&oe, env.Options{Environment: tt.vars}); err != nil {
				t.Fatal(err)
			}
			o, err := oe.build(context.Background(), tt.cfg, "http://127.0.0.1:7320/login/callback")
			if err == nil && o != nil { // the console checks the rest, as startConsole has it do
				_, err = console.New(console.Config{Conn: conn, OIDC: o})
			}
			switch {
			case tt.want != "":
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("got %v; want an error saying %q", err, tt.want)
				}
				return
			case err != nil:
				t.Fatal(err)
			case tt.none:
				if o != nil {
					t.Fatalf("OIDC configured without an issuer: %+v", o)
				}
				return
			}
			if o.TTL != tt.ttl || o.Audience != "whistle" || o.RolesClaim != "whistle_roles" || o.OrgClaim != "whistle_org" || !slices.Equal(o.Scopes, []string{"openid"}) {
				t.Errorf("the configuration is %+v; want a lifetime of %v, the default claims and scopes", o, tt.ttl)
			}
			if tt.cfg.dev && (o.RedirectURL != "http://127.0.0.1:7320/login/callback" || o.TokenIssuer != devIssuer || o.Signer == nil) {
				t.Errorf("dev's configuration is %+v; want its console's callback, its issuer and its key", o)
			}
			if !tt.cfg.dev && o.TokenIssuer != "whistle-console" {
				t.Errorf("the console's tokens are issued as %q; want whistle-console when WHISTLE_JWT_ISSUER is unset", o.TokenIssuer)
			}
		})
	}
	var oe consoleOIDCEnv
	if err := env.ParseWithOptions(&oe, env.Options{Environment: vars("WHISTLE_CONSOLE_OIDC_CLIENT_SECRET", "", "WHISTLE_CONSOLE_OIDC_CLIENT_SECRET_FILE", secretFile,
		"WHISTLE_CONSOLE_OIDC_SCOPES", "openid,profile", "WHISTLE_CONSOLE_OIDC_ROLES_CLAIM", "groups")}); err != nil {
		t.Fatal(err)
	}
	o, err := oe.build(context.Background(), serve, "")
	if err != nil || o.ClientSecret != "s3cret-from-a-file" || !slices.Equal(o.Scopes, []string{"openid", "profile"}) || o.RolesClaim != "groups" {
		t.Fatalf("from a secret file, two scopes and another claim: %+v, %v", o, err)
	}
}

// TestConsoleOIDCLogHidesTheSecret: the console's sign-in settings are
// logged at start without the client secret.
func TestConsoleOIDCLogHidesTheSecret(t *testing.T) {
	t.Parallel()
	oe := consoleOIDCEnv{Issuer: "https://idp.city.example/", ClientID: "whistle-console", ClientSecret: "very-s3cret", RolesClaim: "whistle_roles"}
	var out bytes.Buffer
	slog.New(slog.NewJSONHandler(&out, nil)).Info("console", "oidc", oe)
	if strings.Contains(out.String(), "very-s3cret") || !strings.Contains(out.String(), `"client_secret":"xxxxx"`) ||
		!strings.Contains(out.String(), `"issuer":"https://idp.city.example/"`) {
		t.Errorf("the logged settings: %s; want the issuer and the secret masked", out.String())
	}
}
