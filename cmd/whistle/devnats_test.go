package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/whistle-civic/whistle/cmd/internal/bench"
)

// checkDevNATS checks the loopback port of a running `whistle dev`'s NATS:
// it refuses a connection without credentials; endpoints.json (readable by
// its owner only) holds the floor's and the operator's passwords; the
// floor's user cannot publish an org tree, nor the operator's an event.
func checkDevNATS(t *testing.T, data string) {
	t.Helper()
	path := filepath.Join(data, "endpoints.json")
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("endpoints.json: %v, mode %v; want 0600", err, st.Mode())
	}
	ends, err := bench.ReadEndpoints(data)
	if err != nil {
		t.Fatal(err)
	}
	if nc, err := nats.Connect(ends.NATS); err == nil {
		nc.Close()
		t.Fatal("whistle dev's NATS admitted a connection without credentials")
	}
	for _, user := range []string{bench.FloorUser, operatorUser} {
		pw, ok := ends.NATSUsers[user]
		if !ok {
			t.Fatalf("endpoints.json has no password for %s", user)
		}
		nc, err := nats.Connect(ends.NATS, nats.UserInfo(user, pw))
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if _, err := js.Publish(ctx, "whistle.v1.org_tree", []byte("forged")); err == nil {
			t.Errorf("%s published an org tree", user)
		}
		cancel()
		nc.Close()
	}
}
