// Package natsserver runs a NATS server with JetStream inside our own process:
// `whistle dev` uses it when WHISTLE_NATS_URL is unset, and tests use it when
// WHISTLE_TEST_NATS_URL is unset.
package natsserver

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Options configure the server.
type Options struct {
	// StoreDir holds JetStream's files. Required: JetStream keeps streams on disk.
	StoreDir string
	// Listen also opens a TCP port on 127.0.0.1 (Port; 0 picks a free one),
	// for tools such as the nats CLI. By default the server is reachable only
	// from inside the process.
	Listen bool
	// Port is the TCP port when Listen is set.
	Port int
	// MaxPayload is the most bytes one message may carry (headers included).
	// Default (0): NATS's own, 1 MiB. Tests set it low to make oversized events.
	MaxPayload int32
}

// Server is a running in-process NATS server.
type Server struct {
	srv *server.Server
}

// Start starts the server and waits until it accepts connections.
func Start(o Options) (*Server, error) {
	if o.StoreDir == "" {
		return nil, errors.New("natsserver: StoreDir is required")
	}
	opts := &server.Options{
		ServerName: "whistle-dev",
		Host:       "127.0.0.1",
		Port:       o.Port,
		DontListen: !o.Listen,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: o.MaxPayload,
	}
	if o.Listen && o.Port == 0 {
		opts.Port = server.RANDOM_PORT
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start in-process NATS: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("in-process NATS not ready within 30 s")
	}
	return &Server{srv: srv}, nil
}

// ConnectOption makes a nats connection go to this server in-process.
func (s *Server) ConnectOption() nats.Option { return nats.InProcessServer(s.srv) }

// URL is the server's client URL (useful only when Listen is set).
func (s *Server) URL() string { return s.srv.ClientURL() }

// Shutdown stops the server and waits until it has.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}
