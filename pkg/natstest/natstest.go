// Package natstest gives each test its own JetStream: a stream and subject
// prefix of its own on WHISTLE_TEST_NATS_URL when that is set, otherwise an
// in-process NATS server with JetStream in the test's temporary folder.
package natstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/natsserver"
)

// Env is what a test needs to connect more clients to its JetStream.
type Env struct {
	// Config connects to the test's stream and prefix.
	Config bus.Config
	// Options holds the in-process connect option, if any.
	Options []nats.Option
	// Server is the in-process server, nil when WHISTLE_TEST_NATS_URL is used.
	Server *natsserver.Server
}

// Connect opens another connection to the test's JetStream, closed when the test ends.
func (e *Env) Connect(tb testing.TB, name string) *bus.Bus {
	tb.Helper()
	cfg := e.Config
	cfg.Name = name
	b, err := bus.Connect(context.Background(), cfg, e.Options...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(b.Close)
	return b
}

// New sets up a JetStream for one test.
func New(tb testing.TB) *Env {
	tb.Helper()
	u := os.Getenv("WHISTLE_TEST_NATS_URL")
	if u == "" {
		return NewInProcess(tb, natsserver.Options{})
	}
	suffix := randomHex(4)
	cfg := bus.Config{ConnectWait: connectWait, URL: u, Stream: "WHISTLE_T" + strings.ToUpper(suffix), Prefix: "t" + suffix}
	tb.Cleanup(func() { deleteStreams(u, cfg) })
	return &Env{Config: cfg}
}

// NewInProcess sets up a JetStream for one test on an in-process server
// started with o (StoreDir defaults to a temporary folder of the test), even
// when WHISTLE_TEST_NATS_URL is set: for tests that need a server setting,
// e.g. a small MaxPayload.
func NewInProcess(tb testing.TB, o natsserver.Options) *Env {
	tb.Helper()
	if o.StoreDir == "" {
		o.StoreDir = tb.TempDir()
	}
	srv, err := natsserver.Start(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Shutdown)
	return &Env{Config: bus.Config{ConnectWait: connectWait}, Server: srv, Options: []nats.Option{srv.ConnectOption()}}
}

// connectWait bounds how long a test waits for its JetStream.
const connectWait = 10 * time.Second

func deleteStreams(url string, cfg bus.Config) {
	nc, err := nats.Connect(url)
	if err != nil {
		return
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return
	}
	_ = js.DeleteStream(cfg.Stream)
	_ = js.DeleteStream(cfg.Stream + "_DLQ")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
