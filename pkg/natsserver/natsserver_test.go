package natsserver_test

import (
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/events"
	"github.com/whistle-civic/whistle/pkg/natsserver"
)

// The server `whistle dev` runs admits only its users, on loopback only,
// each with a password made anew at every start.
func TestServerAdmitsOnlyItsUsersOnLoopback(t *testing.T) {
	t.Parallel()
	users, err := natsserver.ServiceUsers(bus.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir(), Listen: true, Users: natsserver.Sorted(users)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		t.Fatalf("the server listens on %s, want loopback only", srv.URL())
	}
	if nc, err := nats.Connect(srv.URL()); err == nil {
		nc.Close()
		t.Fatal("a connection without credentials was admitted")
	}
	for _, svc := range events.Services {
		nc, err := nats.Connect(srv.URL(), nats.UserInfo(svc, users[svc].Password))
		if err != nil {
			t.Fatalf("%s: %v", svc, err)
		}
		nc.Close()
		if !slices.Equal(users[svc].Publish, bus.PublishAllow(svc, bus.Config{})) {
			t.Errorf("%s may publish %v, want bus.PublishAllow's", svc, users[svc].Publish)
		}
	}
	again, err := natsserver.ServiceUsers(bus.Config{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, svc := range events.Services {
		for _, pw := range []string{users[svc].Password, again[svc].Password} {
			if len(pw) < 40 || seen[pw] {
				t.Fatalf("a password of %s: want 43 random characters, new each time", svc)
			}
			seen[pw] = true
		}
	}
}

func TestUserLogShowsNoPassword(t *testing.T) {
	t.Parallel()
	u, err := natsserver.NewUser("bench", []string{"benchfloor.>"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	slog.New(slog.NewTextHandler(&out, nil)).Info("user", "u", u)
	if strings.Contains(out.String(), u.Password) || !strings.Contains(out.String(), "bench") {
		t.Fatalf("log line %s", out.String())
	}
}

func TestStartRefusesAUserWithoutPassword(t *testing.T) {
	t.Parallel()
	_, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir(), Users: []natsserver.User{{Name: "intake"}}})
	if err == nil || !strings.Contains(err.Error(), "password") {
		t.Fatalf("Start: %v", err)
	}
}
