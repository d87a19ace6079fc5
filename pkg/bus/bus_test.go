package bus_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/whistle-civic/whistle/pkg/natstest"
)

// Every service connects with the same configuration; once the streams
// exist, connecting again must not send a stream update, which would race
// the creation of consumers inside the server. A changed setting is still
// applied.
func TestConnectUpdatesStreamsOnlyWhenTheirSettingsDiffer(t *testing.T) {
	t.Parallel()
	env := natstest.New(t)
	first := env.Connect(t, "first")
	var updates atomic.Int64
	sub, err := first.Conn().Subscribe("$JS.API.STREAM.UPDATE.>", func(*nats.Msg) { updates.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := first.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		env.Connect(t, "again")
	}
	if err := first.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	if n := updates.Load(); n != 0 {
		t.Fatalf("connecting with the same settings sent %d stream updates, want none", n)
	}

	const maxAge = 90 * 24 * time.Hour
	env.Config.MaxAge = maxAge
	b := env.Connect(t, "changed")
	s, err := b.JetStream().Stream(context.Background(), b.Stream())
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.MaxAge; got != maxAge {
		t.Fatalf("stream MaxAge %s after connecting with %s, want it updated", got, maxAge)
	}
	if err := first.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	if n := updates.Load(); n != 1 {
		t.Fatalf("a changed setting sent %d stream updates, want 1", n)
	}
}
