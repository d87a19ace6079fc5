package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/whistle-civic/whistle/pkg/client"
)

// An edge is an HTTP part in front of the gRPC APIs (the Open311 gateway,
// the console): a client of the deployment, and a server of its own.

// dialAPI connects to the deployment's gRPC APIs at addr, in TLS verified by
// cfg.APICA when it is set, sending token (when not empty) on every call.
func dialAPI(ctx context.Context, cfg config, addr, token string) (*client.Client, error) {
	var opts []client.Option
	if token != "" {
		opts = append(opts, client.WithToken(token))
	}
	if cfg.APICA != "" {
		tc, err := tlsTo(cfg.APICA)
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithTLS(tc))
	}
	return client.Dial(ctx, addr, opts...)
}

// tlsTo is a client TLS configuration trusting the CA certificates in a PEM file.
func tlsTo(caFile string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("WHISTLE_API_CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("WHISTLE_API_CA %s holds no PEM certificate", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// listenEdge listens on addr for an edge named what (its variable is env).
func listenEdge(addr, what, env string) (net.Listener, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listen on %s: %w (set %s to another address, or off)", what, addr, err, env)
	}
	return lis, nil
}

// serveEdge serves h on lis until the returned stop, which ends the server
// gracefully within its context and then calls closeFn.
func serveEdge(lis net.Listener, h http.Handler, log *slog.Logger, closeFn func()) func(context.Context) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 60 * time.Second,
		WriteTimeout: 0, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("HTTP server stopped", "err", err)
		}
	}()
	return func(ctx context.Context) {
		if err := srv.Shutdown(ctx); err != nil {
			log.Warn("HTTP server shutdown", "err", err)
		}
		closeFn()
	}
}
