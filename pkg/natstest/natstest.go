// Package natstest gives each test its own JetStream: a stream and subject
// prefix of its own on WHISTLE_TEST_NATS_URL when that is set, otherwise an
// in-process NATS server with JetStream in the test's temporary folder —
// open to anyone (New), or admitting only one user per service with that
// service's permissions, as `whistle dev` runs it (NewSecured).
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
	// Users are the server's users by name: one per service and the extra
	// ones of NewSecured. Nil on a server that admits anyone.
	Users map[string]natsserver.User
}

// Auth returns the credentials of the named user; none on a server that
// admits anyone. An unknown user on a secured server fails the test.
func (e *Env) Auth(tb testing.TB, user string) bus.Auth {
	tb.Helper()
	if e.Users == nil {
		return bus.Auth{}
	}
	u, ok := e.Users[user]
	if !ok {
		tb.Fatalf("natstest: no NATS user %q", user)
	}
	return u.Auth()
}

// Auths returns every user's credentials by name (stack.Config.NATSAuth);
// none on a server that admits anyone.
func (e *Env) Auths() map[string]bus.Auth {
	out := map[string]bus.Auth{}
	for name, u := range e.Users {
		out[name] = u.Auth()
	}
	return out
}

// ConnectAs is Connect with the credentials of a user (a service's name),
// keeping the streams' settings unless the user may update them.
func (e *Env) ConnectAs(tb testing.TB, user string) *bus.Bus {
	tb.Helper()
	cfg := e.Config
	cfg.Name, cfg.Auth, cfg.KeepStreamSettings = user, e.Auth(tb, user), !bus.UpdatesStreams(user)
	b, err := bus.Connect(context.Background(), cfg, e.Options...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(b.Close)
	return b
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

// NewSecured sets up a JetStream for one test that admits only a user per
// service (natsserver.ServiceUsers), with its permissions, and the extra
// users, as `whistle dev` runs its in-process server. On
// WHISTLE_TEST_NATS_URL, which has no users, it is New: for tests of the
// services' work, which must pass on both.
func NewSecured(tb testing.TB, extra ...natsserver.User) *Env {
	tb.Helper()
	if os.Getenv("WHISTLE_TEST_NATS_URL") != "" {
		return New(tb)
	}
	return NewWithUsers(tb, extra...)
}

// NewWithUsers is NewSecured always in-process, whatever
// WHISTLE_TEST_NATS_URL says: for tests of the permissions themselves.
func NewWithUsers(tb testing.TB, extra ...natsserver.User) *Env {
	tb.Helper()
	users, err := natsserver.ServiceUsers(bus.Config{ConnectWait: connectWait})
	if err != nil {
		tb.Fatal(err)
	}
	for _, u := range extra {
		users[u.Name] = u
	}
	return NewInProcess(tb, natsserver.Options{Users: natsserver.Sorted(users)})
}

// NewInProcess sets up a JetStream for one test on an in-process server
// started with o (StoreDir defaults to a temporary folder of the test), even
// when WHISTLE_TEST_NATS_URL is set: for tests that need a server setting,
// e.g. a small MaxPayload, or users (o.Users; nil: anyone).
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
	env := &Env{Config: bus.Config{ConnectWait: connectWait}, Server: srv, Options: []nats.Option{srv.ConnectOption()}}
	for _, u := range o.Users {
		if env.Users == nil {
			env.Users = map[string]natsserver.User{}
		}
		env.Users[u.Name] = u
	}
	return env
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
