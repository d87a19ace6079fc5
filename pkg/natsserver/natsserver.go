// Package natsserver runs a NATS server with JetStream inside our own process:
// `whistle dev` uses it when WHISTLE_NATS_URL is unset, and tests use it when
// WHISTLE_TEST_NATS_URL is unset. With Users it admits only those users, each
// limited to what it may publish: `whistle dev` gives every service one of
// its own (ServiceUsers) with a password made anew at each start.
package natsserver

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/events"
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
	// Users are the only clients the server admits, in-process ones
	// included; a connection without a user's credentials is refused.
	// Default none: the server admits anyone (tests of the bus itself).
	Users []User
}

// User is a client the server admits.
type User struct {
	// Name and Password log the user in. Both are required.
	Name, Password string
	// Publish lists the subjects (wildcards allowed) the user may publish
	// to; nothing else. Empty: nothing at all.
	Publish []string
	// Subscribe lists the subjects the user may subscribe to. Empty: any.
	Subscribe []string
}

// Auth returns the credentials a bus connection logs in as this user with.
func (u User) Auth() bus.Auth { return bus.Auth{User: u.Name, Password: u.Password} }

// LogValue shows the user without its password.
func (u User) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", u.Name), slog.Any("publish", u.Publish))
}

// NewUser returns a user with a new random password (GeneratePassword).
func NewUser(name string, publish, subscribe []string) (User, error) {
	pw, err := GeneratePassword()
	if err != nil {
		return User{}, err
	}
	return User{Name: name, Password: pw, Publish: publish, Subscribe: subscribe}, nil
}

// ServiceUsers returns a user for each Whistle service (events.Services),
// named after it, with a new random password and permission to publish
// exactly what bus.PublishAllow allows it on cfg's stream and prefix.
func ServiceUsers(cfg bus.Config) (map[string]User, error) {
	users := map[string]User{}
	for _, svc := range events.Services {
		u, err := NewUser(svc, bus.PublishAllow(svc, cfg), nil)
		if err != nil {
			return nil, err
		}
		users[svc] = u
	}
	return users, nil
}

// Sorted returns the users of a map in name order, for Options.Users.
func Sorted(users map[string]User) []User {
	var out []User
	for _, name := range slices.Sorted(maps.Keys(users)) {
		out = append(out, users[name])
	}
	return out
}

// GeneratePassword returns 32 random bytes from crypto/rand, base64url
// encoded (43 characters: letters, digits, '-' and '_'), fit for a URL.
func GeneratePassword() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("natsserver: random password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// serverUsers are the server's users of us.
func serverUsers(us []User) ([]*server.User, error) {
	var out []*server.User
	for _, u := range us {
		if u.Name == "" || u.Password == "" {
			return nil, fmt.Errorf("natsserver: user %q needs a name and a password", u.Name)
		}
		perms := &server.Permissions{Publish: &server.SubjectPermission{Allow: append([]string{}, u.Publish...)}}
		if len(u.Subscribe) > 0 {
			perms.Subscribe = &server.SubjectPermission{Allow: slices.Clone(u.Subscribe)}
		}
		out = append(out, &server.User{Username: u.Name, Password: u.Password, Permissions: perms})
	}
	return out, nil
}

// Server is a running in-process NATS server.
type Server struct {
	srv *server.Server
}

// Start starts the server and waits until it accepts connections. It listens
// on 127.0.0.1 only, and only when o.Listen is set.
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
	users, err := serverUsers(o.Users)
	if err != nil {
		return nil, err
	}
	opts.Users = users
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
