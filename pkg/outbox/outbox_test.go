package outbox_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/events"
	"github.com/whistle-civic/whistle/pkg/eventually"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/natstest"
	"github.com/whistle-civic/whistle/pkg/outbox"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func event(version int64) *whistlev1.Event {
	return events.MustNew(events.Meta{TicketID: ids.New(), Version: version, Producer: "test",
		OccurredAt: time.Now()}, &whistlev1.TicketReported{})
}

func appendInTx(t *testing.T, db *postgres.DB, evs ...*whistlev1.Event) {
	t.Helper()
	err := db.InTx(context.Background(), func(ctx context.Context, tx pgx.Tx) error {
		return outbox.Append(ctx, tx, evs...)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// streamIDs reads every message on the stream and returns how often each event id occurs.
func streamIDs(t *testing.T, b *bus.Bus) map[string]int {
	t.Helper()
	ctx := context.Background()
	c, err := b.JetStream().OrderedConsumer(ctx, b.Stream(), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := b.JetStream().Stream(ctx, b.Stream())
	if err != nil {
		t.Fatal(err)
	}
	total := int(info.CachedInfo().State.Msgs)
	seen := map[string]int{}
	for len(seen) < total {
		batch, err := c.Fetch(total, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			ev, err := events.Decode(m.Data())
			if err != nil {
				t.Fatal(err)
			}
			if m.Headers().Get(jetstream.MsgIDHeader) != ev.GetEventId() {
				t.Fatalf("Nats-Msg-Id %q, event id %q", m.Headers().Get(jetstream.MsgIDHeader), ev.GetEventId())
			}
			seen[ev.GetEventId()]++
			n++
		}
		if n == 0 {
			break
		}
	}
	return seen
}

func unsent(t *testing.T, db *postgres.DB) int {
	var n int
	if err := db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM outbox WHERE sent_at IS NULL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRolledBackRowsAreNeverPublished(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, "relaytest", nil)
	b := natstest.New(t).Connect(t, "test")
	kept, dropped := event(1), event(1)
	appendInTx(t, db, kept)
	boom := errors.New("boom")
	err := db.InTx(context.Background(), func(ctx context.Context, tx pgx.Tx) error {
		if err := outbox.Append(ctx, tx, dropped); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx returned %v", err)
	}
	r := &outbox.Relay{DB: db, Bus: b}
	if n, err := r.Flush(context.Background()); err != nil || n != 1 {
		t.Fatalf("Flush = %d, %v; want 1 row", n, err)
	}
	got := streamIDs(t, b)
	if len(got) != 1 || got[kept.GetEventId()] != 1 {
		t.Fatalf("stream holds %v, want only %s", got, kept.GetEventId())
	}
}

func TestTwoRelaysPublishEveryRowOnce(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, "relaytest", nil)
	env := natstest.New(t)
	b1, b2 := env.Connect(t, "relay-1"), env.Connect(t, "relay-2")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, b := range []*bus.Bus{b1, b2} {
		r := &outbox.Relay{DB: db, Bus: b, Batch: 16, Poll: time.Hour}
		wg.Add(1)
		go func() { defer wg.Done(); _ = r.Run(ctx) }()
	}
	// Writers commit while both relays run; a poll of an hour means only
	// LISTEN/NOTIFY can wake the relays.
	const writers, perWriter = 8, 40
	want := map[string]bool{}
	var mu sync.Mutex
	var ww sync.WaitGroup
	for w := 0; w < writers; w++ {
		ww.Add(1)
		go func() {
			defer ww.Done()
			for i := 0; i < perWriter; i++ {
				evs := []*whistlev1.Event{event(1), event(2)}
				err := db.InTx(context.Background(), func(ctx context.Context, tx pgx.Tx) error {
					return outbox.Append(ctx, tx, evs...)
				})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, e := range evs {
					want[e.GetEventId()] = true
				}
				mu.Unlock()
			}
		}()
	}
	ww.Wait()
	eventually.True(t, "the outbox to drain", func() bool { return unsent(t, db) == 0 })
	cancel()
	wg.Wait()

	got := streamIDs(t, b1)
	if len(got) != len(want) {
		t.Fatalf("stream holds %d distinct events, want %d", len(got), len(want))
	}
	for id, n := range got {
		if !want[id] || n != 1 {
			t.Fatalf("event %s on the stream %d times (written: %v)", id, n, want[id])
		}
	}
}

func TestRepublishedRowsAreDeduplicated(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, "relaytest", nil)
	b := natstest.New(t).Connect(t, "test")
	ev := event(1)
	appendInTx(t, db, ev)
	r := &outbox.Relay{DB: db, Bus: b}
	if _, err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A relay that died after publishing but before marking: the row is unsent again.
	if _, err := db.Pool.Exec(context.Background(), "UPDATE outbox SET sent_at = NULL"); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Flush(context.Background()); err != nil || n != 1 {
		t.Fatalf("second Flush = %d, %v", n, err)
	}
	if got := streamIDs(t, b); len(got) != 1 || got[ev.GetEventId()] != 1 {
		t.Fatalf("stream holds %v, want %s once", got, ev.GetEventId())
	}
}
