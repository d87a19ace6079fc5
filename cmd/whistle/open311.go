package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/whistle-civic/whistle/pkg/client"
	"github.com/whistle-civic/whistle/pkg/egress"

	"github.com/whistle-civic/whistle/cmd/internal/open311"
)

// devOpen311Addr is where `whistle dev` serves the Open311 gateway by default.
const devOpen311Addr = "127.0.0.1:7311"

// startOpen311 serves the Open311 gateway on cfg.Open311Addr ("off": not
// at all; lis, when given, instead), calling the deployment at grpcAddr
// with the token in cfg.Open311TokenFile. It returns the gateway's base URL
// and a stop that ends the HTTP server gracefully within ctx.
func startOpen311(ctx context.Context, cfg config, grpcAddr string, lis net.Listener, log *slog.Logger) (string, func(context.Context), error) {
	if lis == nil && cfg.Open311Addr == "off" {
		return "off", nil, nil
	}
	token, err := readSecretFile("WHISTLE_OPEN311_TOKEN_FILE", cfg.Open311TokenFile, "the Open311 gateway's token")
	if err != nil {
		return "", nil, err
	}
	allow, err := egress.ParseAllow(cfg.EgressAllow)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", egress.EnvAllow, err)
	}
	opts := []client.Option{client.WithToken(token)}
	if cfg.Open311GRPCCA != "" {
		tc, err := tlsTo(cfg.Open311GRPCCA)
		if err != nil {
			return "", nil, err
		}
		opts = append(opts, client.WithTLS(tc))
	}
	c, err := client.Dial(ctx, grpcAddr, opts...)
	if err != nil {
		return "", nil, err
	}
	if lis == nil {
		if lis, err = net.Listen("tcp", cfg.Open311Addr); err != nil {
			c.Close()
			return "", nil, fmt.Errorf("listen on %s: %w (set WHISTLE_OPEN311_ADDR to another address, or off)", cfg.Open311Addr, err)
		}
	}
	base := cfg.Open311URL
	if base == "" {
		base = "http://" + lis.Addr().String()
	}
	gw, err := open311.New(open311.Config{Client: c, BaseURL: base, Media: egress.Policy{Allow: allow}.Client(10 * time.Second),
		MaxMediaBytes: cfg.MaxPhotoBytes, Log: log.With("part", "open311")})
	if err != nil {
		c.Close()
		return "", nil, err
	}
	srv := &http.Server{Handler: gw.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("the Open311 gateway stopped", "err", err)
		}
	}()
	log.Info("open311 gateway serving", "url", base+open311.Prefix, "grpc", grpcAddr)
	return base, func(ctx context.Context) {
		if err := srv.Shutdown(ctx); err != nil {
			log.Warn("open311 gateway shutdown", "err", err)
		}
		c.Close()
	}, nil
}

// tlsTo is a client TLS configuration trusting the CA certificates in a PEM file.
func tlsTo(caFile string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("WHISTLE_OPEN311_GRPC_CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("WHISTLE_OPEN311_GRPC_CA %s holds no PEM certificate", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// runServeOpen311 runs the Open311 gateway alone until ctx ends.
func runServeOpen311(ctx context.Context, cfg config, addr string, out io.Writer) error {
	if cfg.Open311TokenFile == "" {
		return errors.New("whistle serve open311 needs WHISTLE_OPEN311_TOKEN_FILE: a file holding the gateway's bearer token, " +
			"issued to a monitor of the city (it reads tickets as one, and shows no personal data)")
	}
	log, err := cfg.logger()
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (pass another --addr)", addr, err)
	}
	log.Info("starting", "service", "open311", "config", cfg, "addr", addr)
	base, stop, err := startOpen311(ctx, cfg, cfg.Open311GRPC, lis, log)
	if err != nil {
		lis.Close()
		return err
	}
	fmt.Fprintf(out, "whistle open311 ready on %s (%s%s)\n", lis.Addr(), strings.TrimRight(base, "/"), open311.Prefix)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	stop(sctx)
	return nil
}
