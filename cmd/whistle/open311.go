package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

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
	c, err := dialAPI(ctx, cfg, grpcAddr, token)
	if err != nil {
		return "", nil, err
	}
	if lis == nil {
		if lis, err = listenEdge(cfg.Open311Addr, "the Open311 gateway", "WHISTLE_OPEN311_ADDR"); err != nil {
			c.Close()
			return "", nil, err
		}
	}
	base := cfg.Open311URL
	if base == "" {
		base = "http://" + lis.Addr().String()
	}
	log = log.With("part", "open311")
	gw, err := open311.New(open311.Config{Client: c, BaseURL: base, Media: egress.Policy{Allow: allow}.Client(10 * time.Second),
		MaxMediaBytes: cfg.MaxPhotoBytes, Log: log})
	if err != nil {
		c.Close()
		return "", nil, err
	}
	log.Info("open311 gateway serving", "url", base+open311.Prefix, "grpc", grpcAddr)
	return base, serveEdge(lis, gw.Handler(), log, func() { c.Close() }), nil
}

// runServeOpen311 runs the Open311 gateway alone until ctx ends.
func runServeOpen311(ctx context.Context, cfg config, addr string, out io.Writer) error {
	if cfg.Open311TokenFile == "" {
		return errors.New("whistle serve open311 needs WHISTLE_OPEN311_TOKEN_FILE: a file holding the gateway's bearer token, " +
			"issued to a monitor of the city (it reads tickets as one, and shows no personal data)")
	}
	return runEdge(ctx, cfg, addr, out, "open311", func(log *slog.Logger, lis net.Listener) (string, func(context.Context), error) {
		base, stop, err := startOpen311(ctx, cfg, cfg.APIAddr, lis, log)
		return strings.TrimRight(base, "/") + open311.Prefix, stop, err
	})
}

// runEdge runs one edge alone on addr until ctx ends.
func runEdge(ctx context.Context, cfg config, addr string, out io.Writer, name string,
	start func(*slog.Logger, net.Listener) (string, func(context.Context), error)) error {
	log, err := cfg.logger()
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (pass another --addr)", addr, err)
	}
	log.Info("starting", "service", name, "config", cfg, "addr", addr)
	url, stop, err := start(log, lis)
	if err != nil {
		lis.Close()
		return err
	}
	fmt.Fprintf(out, "whistle %s ready on %s (%s)\n", name, lis.Addr(), url)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	stop(sctx)
	return nil
}
