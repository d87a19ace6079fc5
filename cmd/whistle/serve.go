package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/whistle-civic/whistle/pkg/bus"

	"github.com/whistle-civic/whistle/cmd/internal/stack"
)

// runServe runs one service alone until ctx ends.
func runServe(ctx context.Context, cfg config, name, addr string, out io.Writer) error {
	if cfg.DatabaseURL == "" || cfg.NATSURL == "" {
		return errors.New("whistle serve needs WHISTLE_DATABASE_URL (PostgreSQL) and WHISTLE_NATS_URL (NATS with JetStream); " +
			"to run everything in one process on embedded defaults, use `whistle dev`")
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
		cfg.MetricsAddr = ":" + metricsPorts[name]
	}
	log.Info("starting", "service", name, "config", cfg, "addr", addr)
	sc := stack.Config{Services: []string{name}, Bus: bus.Config{URL: cfg.NATSURL, Replicas: cfg.StreamReplicas}}
	return serveStack(ctx, cfg, sc, lis, log, func() {
		fmt.Fprintf(out, "whistle %s ready on %s\n", name, lis.Addr())
	})
}

// metricsPorts are the default /metrics ports of `whistle serve`.
var metricsPorts = map[string]string{"intake": "9001", "dispatch": "9002", "response": "9003", "evaluation": "9004",
	"monitoring": "9005"}
