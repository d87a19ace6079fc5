package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/services/dispatch"

	"github.com/whistle-civic/whistle/cmd/internal/console"
)

// devConsoleAddr is where `whistle dev` serves the web console by default.
const devConsoleAddr = "127.0.0.1:7320"

// startConsole serves the web console on cfg.ConsoleAddr ("off": not at
// all; lis, when given, instead), calling the deployment at grpcAddr with
// each signed-in user's own token. users are a development console's
// sample users (none: users paste their identity provider's token).
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
	con, err := console.New(console.Config{Conn: c.Conn(), Users: users, City: city, Log: log})
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
