package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/egress"
	"github.com/whistle-civic/whistle/services/dispatch"

	"github.com/whistle-civic/whistle/cmd/internal/console"
)

// devConsoleAddr is where `whistle dev` serves the web console by default.
const devConsoleAddr = "127.0.0.1:7320"

// startConsole serves the web console on cfg.ConsoleAddr ("off": not at
// all; lis, when given, instead), calling the deployment at grpcAddr with
// each signed-in user's own token. users are a development console's
// sample users; with WHISTLE_CONSOLE_OIDC_* people sign in with the city's
// identity provider (otherwise they paste a token).
func startConsole(ctx context.Context, cfg config, grpcAddr string, lis net.Listener, users []console.User, city string,
	log *slog.Logger) (string, func(context.Context), error) {
	if lis == nil && cfg.ConsoleAddr == "off" {
		return "off", nil, nil
	}
	c, err := dialAPI(ctx, cfg, grpcAddr, "")
	if err != nil {
		return "", nil, err
	}
	if lis == nil {
		if lis, err = listenEdge(cfg.ConsoleAddr, "the web console", "WHISTLE_CONSOLE_ADDR"); err != nil {
			c.Close()
			return "", nil, err
		}
	}
	log = log.With("part", "console")
	var oe consoleOIDCEnv
	if err := env.Parse(&oe); err != nil {
		c.Close()
		return "", nil, fmt.Errorf("read WHISTLE_CONSOLE_* variables: %w", err)
	}
	oidc, err := oe.build(ctx, cfg, "http://"+lis.Addr().String()+"/login/callback")
	if err != nil {
		c.Close()
		return "", nil, err
	}
	if oidc != nil {
		log.Info("the console signs people in with the city's identity provider", "oidc", oe, "redirect_url", oidc.RedirectURL,
			"signing_key_id", oidc.Signer.KeyID(), "token_issuer", oidc.TokenIssuer, "token_ttl", oidc.TTL)
	}
	con, err := console.New(console.Config{Conn: c.Conn(), Users: users, City: city, Log: log, OIDC: oidc})
	if err != nil {
		c.Close()
		return "", nil, err
	}
	url := "http://" + lis.Addr().String() + "/"
	log.Info("console serving", "url", url, "grpc", grpcAddr)
	return url, serveEdge(lis, con.Handler(), log, func() { c.Close() }), nil
}

// devConsoleUsers are the sample users of `whistle dev`, each signed in
// with a token minted for them by the dev's signing key.
func devConsoleUsers(data string, cfg config) ([]console.User, string, error) {
	cat, err := cfg.catalog()
	if err != nil {
		return nil, "", err
	}
	if cat == nil {
		if cat, err = dispatch.ParseCatalog(dispatch.SampleCatalog); err != nil {
			return nil, "", err
		}
	}
	keys, _ := filepath.Glob(filepath.Join(data, "auth", "signer-*.json"))
	if len(keys) == 0 {
		return nil, "", nil // WHISTLE_JWKS names the keys: no sample users
	}
	signer, err := auth.LoadSigner(keys[0])
	if err != nil {
		return nil, "", err
	}
	var users []console.User
	for _, u := range devUsers(cat) {
		if u.role == auth.RoleSystem {
			continue
		}
		claims := auth.Claims{Subject: "dev-" + u.name, OrgUnit: u.orgUnit, Roles: []auth.Role{u.role}, Audience: audience,
			Issuer: devIssuer, TTL: cfg.JWTMaxLifetime}
		users = append(users, console.User{Name: u.name, Role: string(u.role), OrgUnit: u.orgUnit,
			Token: func() (string, error) { return signer.Mint(claims) }})
	}
	return users, cityOf(cat), nil
}

// runServeConsole runs the web console alone until ctx ends.
func runServeConsole(ctx context.Context, cfg config, addr string, out io.Writer) error {
	return runEdge(ctx, cfg, addr, out, "console", func(log *slog.Logger, lis net.Listener) (string, func(context.Context), error) {
		return startConsole(ctx, cfg, cfg.APIAddr, lis, nil, "", log)
	})
}

// consoleOIDCEnv is the console's sign-in with the city's identity provider
// (OpenID Connect), from the WHISTLE_CONSOLE_OIDC_* variables; without an
// issuer there is none, and people sign in with a pasted token (or, in
// dev, as a sample user).
type consoleOIDCEnv struct {
	// Issuer is the provider's issuer URL (its discovery document is
	// <issuer>/.well-known/openid-configuration).
	Issuer string `env:"WHISTLE_CONSOLE_OIDC_ISSUER"`
	// ClientID and ClientSecret (or the content of ClientSecretFile, less
	// a final newline) are the console's client at the provider; no
	// secret: a public client, PKCE alone.
	ClientID         string `env:"WHISTLE_CONSOLE_OIDC_CLIENT_ID"`
	ClientSecret     string `env:"WHISTLE_CONSOLE_OIDC_CLIENT_SECRET"`
	ClientSecretFile string `env:"WHISTLE_CONSOLE_OIDC_CLIENT_SECRET_FILE"`
	// RedirectURL is the console's /login/callback as browsers reach it,
	// registered with the provider. Required by serve; dev defaults to
	// http://<console address>/login/callback.
	RedirectURL string `env:"WHISTLE_CONSOLE_OIDC_REDIRECT_URL"`
	// Scopes asked for, comma-separated ("openid" is always asked).
	Scopes []string `env:"WHISTLE_CONSOLE_OIDC_SCOPES" envDefault:"openid"`
	// RolesClaim and OrgClaim name the ID-token claims with the user's
	// Whistle roles and org unit.
	RolesClaim string `env:"WHISTLE_CONSOLE_OIDC_ROLES_CLAIM" envDefault:"whistle_roles"`
	OrgClaim   string `env:"WHISTLE_CONSOLE_OIDC_ORG_CLAIM" envDefault:"whistle_org"`
	// SigningKey is the private JWK the console mints users' tokens with;
	// its public half must be in WHISTLE_JWKS. Required by serve; dev
	// uses its own signing key.
	SigningKey string `env:"WHISTLE_CONSOLE_SIGNING_KEY"`
	// TokenTTL is how long a minted token lives (at most
	// WHISTLE_JWT_MAX_LIFETIME).
	TokenTTL time.Duration `env:"WHISTLE_CONSOLE_TOKEN_TTL" envDefault:"8h"`
}

// LogValue shows the settings with the client secret masked.
func (o consoleOIDCEnv) LogValue() slog.Value {
	secret := ""
	switch {
	case o.ClientSecretFile != "":
		secret = "from " + o.ClientSecretFile
	case o.ClientSecret != "":
		secret = "xxxxx"
	}
	return slog.GroupValue(slog.String("issuer", o.Issuer), slog.String("client_id", o.ClientID), slog.String("client_secret", secret),
		slog.String("redirect_url", o.RedirectURL), slog.Any("scopes", o.Scopes), slog.String("roles_claim", o.RolesClaim),
		slog.String("org_claim", o.OrgClaim), slog.String("signing_key", o.SigningKey), slog.Duration("token_ttl", o.TokenTTL))
}

// build is the console's OIDC configuration (nil without an issuer). Its
// tokens are minted for WHISTLE_JWT_AUDIENCE, issued as WHISTLE_JWT_ISSUER
// (whistle-console when unset), with WHISTLE_CONSOLE_SIGNING_KEY or, in
// dev, dev's own key; when WHISTLE_JWKS can be read, a token of the key
// must verify against it (else every sign-in would end in refused calls).
// devRedirect is dev's default redirect URL.
func (o consoleOIDCEnv) build(ctx context.Context, cfg config, devRedirect string) (*console.OIDC, error) {
	if o.Issuer == "" {
		if o.ClientID != "" || o.RedirectURL != "" {
			return nil, errors.New("WHISTLE_CONSOLE_OIDC_ISSUER is not set: set it to the city's identity provider's issuer URL, " +
				"or unset the other WHISTLE_CONSOLE_OIDC_* variables")
		}
		return nil, nil
	}
	if o.ClientID == "" {
		return nil, errors.New("WHISTLE_CONSOLE_OIDC_CLIENT_ID is not set: register the console as a client at the identity provider and set its id")
	}
	secret := o.ClientSecret
	if o.ClientSecretFile != "" {
		if secret != "" {
			return nil, errors.New("set WHISTLE_CONSOLE_OIDC_CLIENT_SECRET or WHISTLE_CONSOLE_OIDC_CLIENT_SECRET_FILE, not both")
		}
		var err error
		if secret, err = readSecretFile("WHISTLE_CONSOLE_OIDC_CLIENT_SECRET_FILE", o.ClientSecretFile, "the console's client secret"); err != nil {
			return nil, err
		}
	}
	redirect := o.RedirectURL
	if redirect == "" {
		if !cfg.dev {
			return nil, errors.New("WHISTLE_CONSOLE_OIDC_REDIRECT_URL is not set: set it to the console's /login/callback as browsers reach it " +
				"(e.g. https://console.example.org/login/callback), registered with the identity provider")
		}
		redirect = devRedirect
	}
	keyFile := o.SigningKey
	if keyFile == "" && cfg.dev && cfg.JWKS != "" {
		keys, _ := filepath.Glob(filepath.Join(filepath.Dir(cfg.JWKS), "signer-*.json"))
		if len(keys) > 0 {
			keyFile = keys[0]
		}
	}
	if keyFile == "" {
		return nil, errors.New("WHISTLE_CONSOLE_SIGNING_KEY is not set: the console mints each user's token with it " +
			"(a private JWK, Ed25519 or ECDSA, with a kid), and its public half must be in WHISTLE_JWKS")
	}
	signer, err := auth.LoadSigner(keyFile)
	if err != nil {
		return nil, fmt.Errorf("WHISTLE_CONSOLE_SIGNING_KEY: %w", err)
	}
	ttl := o.TokenTTL
	if cfg.JWTMaxLifetime > 0 && ttl > cfg.JWTMaxLifetime {
		ttl = cfg.JWTMaxLifetime
	}
	if ttl <= 0 || ttl > auth.DefaultMaxLifetime {
		return nil, fmt.Errorf("WHISTLE_CONSOLE_TOKEN_TTL %v: give a lifetime between 1m and %v (e.g. 8h)", o.TokenTTL, auth.DefaultMaxLifetime)
	}
	allow, err := egress.ParseAllow(cfg.EgressAllow)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", egress.EnvAllow, err)
	}
	issuer := cfg.JWTIssuer
	if issuer == "" {
		issuer = "whistle-console"
	}
	oidc := &console.OIDC{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: secret, RedirectURL: redirect, Scopes: o.Scopes,
		RolesClaim: o.RolesClaim, OrgClaim: o.OrgClaim, Signer: signer, Audience: cfg.JWTAudience, TokenIssuer: issuer, TTL: ttl,
		Egress: egress.Policy{Allow: allow}}
	if cfg.JWKS != "" {
		if err := checkConsoleKey(ctx, cfg, oidc); err != nil {
			return nil, err
		}
	}
	return oidc, nil
}

// checkConsoleKey verifies a token of the console's key against
// WHISTLE_JWKS as the APIs do: a key missing from it would have every
// sign-in end in refused calls.
func checkConsoleKey(ctx context.Context, cfg config, o *console.OIDC) error {
	vc := auth.VerifierConfig{Audience: o.Audience, Issuer: cfg.JWTIssuer, MaxLifetime: cfg.JWTMaxLifetime}
	if len(cfg.JWKS) > 8 && (cfg.JWKS[:7] == "http://" || cfg.JWKS[:8] == "https://") {
		vc.JWKSURL = cfg.JWKS
	} else {
		vc.JWKSFile = cfg.JWKS
	}
	v, err := auth.NewVerifier(ctx, vc)
	if err != nil {
		return fmt.Errorf("WHISTLE_JWKS, to check the console's signing key: %w", err)
	}
	probe, err := o.Signer.Mint(auth.Claims{Subject: "console-key-check", OrgUnit: "console-key-check", Roles: []auth.Role{auth.RoleMonitor},
		Audience: o.Audience, Issuer: o.TokenIssuer, TTL: time.Minute})
	if err != nil {
		return fmt.Errorf("WHISTLE_CONSOLE_SIGNING_KEY: %w", err)
	}
	if _, err := v.Verify(probe); err != nil {
		return fmt.Errorf("the console's signing key (kid %q) does not make tokens the APIs accept: %w: add its public half to WHISTLE_JWKS", o.Signer.KeyID(), err)
	}
	return nil
}
