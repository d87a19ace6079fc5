package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/whistle-civic/whistle/pkg/bus"

	"github.com/whistle-civic/whistle/cmd/internal/stack"
)

// errPlaintext: serve was asked to take gRPC without TLS and not told that
// something else encrypts the traffic.
var errPlaintext = errors.New("whistle serve does not take gRPC in plain text: set WHISTLE_TLS_CERT and WHISTLE_TLS_KEY " +
	"(the server's certificate and key, PEM files), or WHISTLE_INSECURE=true where a service mesh or a private network " +
	"already encrypts the traffic")

// runServe runs one service alone until ctx ends.
func runServe(ctx context.Context, cfg config, name, addr string, out io.Writer) error {
	if cfg.DatabaseURL == "" || cfg.NATSURL == "" {
		return errors.New("whistle serve needs WHISTLE_DATABASE_URL (PostgreSQL) and WHISTLE_NATS_URL (NATS with JetStream); " +
			"to run everything in one process on embedded defaults, use `whistle dev`")
	}
	if cfg.TLSCert == "" && !cfg.Insecure {
		return errPlaintext
	}
	bc, err := cfg.natsBus()
	if err != nil {
		return err
	}
	log, err := cfg.logger()
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (pass another --addr)", addr, err)
	}
	defer lis.Close()
	if cfg.MetricsAddr == "" {
		cfg.MetricsAddr = "127.0.0.1:" + metricsPorts[name]
	}
	log.Info("starting", "service", name, "config", cfg, "addr", addr)
	logChoices(log, cfg, bc)
	sc := stack.Config{Services: []string{name}, Bus: bc, Reflection: cfg.Reflection}
	return serveStack(ctx, cfg, sc, lis, log, func() func(context.Context) {
		fmt.Fprintf(out, "whistle %s ready on %s\n", name, lis.Addr())
		return nil
	})
}

// logChoices logs, in one line, how serve protects itself as configured,
// and warns when tokens are taken from any issuer.
func logChoices(log *slog.Logger, cfg config, bc bus.Config) {
	tlsChoice := "on (WHISTLE_TLS_CERT)"
	if cfg.TLSCert == "" {
		tlsChoice = "off (WHISTLE_INSECURE=true: a mesh or private network must encrypt the traffic)"
	}
	issuer := cfg.JWTIssuer
	if issuer == "" {
		issuer = "any"
	}
	log.Info("serving with", "tls", tlsChoice, "client_certs", cfg.TLSClientCA != "", "reflection", cfg.Reflection,
		"metrics_addr", cfg.MetricsAddr, "health_details", cfg.healthDetails(), "nats_auth", bc.Auth.Method(),
		"nats_tls", bc.TLS.Enabled() || strings.Contains(bc.URL, "tls://"), "jwt_issuer", issuer)
	if cfg.JWTIssuer == "" {
		log.Warn("WHISTLE_JWT_ISSUER is not set: tokens from any issuer whose key is in the JWKS are accepted; " +
			"set it to the iss your identity provider writes")
	}
}

// healthDetails reports whether /healthz and /readyz show each check:
// on a loopback metrics address, or when WHISTLE_HEALTH_DETAILS says so.
func (c config) healthDetails() bool { return c.HealthDetails || loopback(c.MetricsAddr) }

// loopback reports whether addr (host:port) listens on loopback only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// metricsPorts are the default /metrics ports of `whistle serve`, on 127.0.0.1.
var metricsPorts = map[string]string{"intake": "9001", "dispatch": "9002", "response": "9003", "evaluation": "9004",
	"monitoring": "9005"}
