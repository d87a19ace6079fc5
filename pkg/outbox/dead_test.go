package outbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/apperr"
	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/events"
	"github.com/whistle-civic/whistle/pkg/eventually"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/natsserver"
	"github.com/whistle-civic/whistle/pkg/natstest"
	"github.com/whistle-civic/whistle/pkg/outbox"
	"github.com/whistle-civic/whistle/pkg/pgtest"
)

// sized returns a reported event of exactly size encoded bytes.
func sized(t *testing.T, size int) *whistlev1.Event {
	t.Helper()
	ev := events.MustNew(events.Meta{TicketID: ids.New(), Version: 1, Producer: "test", OccurredAt: time.Now()},
		&whistlev1.TicketReported{Ticket: &whistlev1.Ticket{}})
	for d := size - proto.Size(ev); d != 0; d = size - proto.Size(ev) { // the length prefix grows with the text
		ev.GetReported().GetTicket().Description += strings.Repeat("x", max(d, 0))
		if d < 0 {
			desc := ev.GetReported().GetTicket().GetDescription()
			ev.GetReported().GetTicket().Description = desc[:len(desc)+d]
		}
	}
	return ev
}

// streamOrder returns the event ids on the events stream, in stream order.
func streamOrder(t *testing.T, b *bus.Bus) []string {
	t.Helper()
	ctx := context.Background()
	s, err := b.JetStream().Stream(ctx, b.Stream())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for seq := uint64(1); ; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m.Header.Get(jetstream.MsgIDHeader))
	}
}

// TestUnpublishableEventIsDeadLetteredAndTheRestGoOutInOrder appends an event
// too large to publish between small ones, for both ways of being too large:
// one flush publishes the others in order, dead-letters the large one with
// its reason where `whistlectl dead-letters list` finds it, and settles its
// row, so nothing waits behind it.
func TestUnpublishableEventIsDeadLetteredAndTheRestGoOutInOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		env    func(t *testing.T) *bus.Bus
		size   int
		reason string // in the dead letter's error and the row's dead_reason
		held   bool   // the dead letter holds the event itself
	}{
		{"larger than the stream takes", func(t *testing.T) *bus.Bus {
			b := natstest.New(t).Connect(t, "relay")
			s, err := b.JetStream().Stream(context.Background(), b.Stream())
			if err != nil {
				t.Fatal(err)
			}
			cfg := s.CachedInfo().Config
			cfg.MaxMsgSize = 4 << 10
			if _, err := b.JetStream().UpdateStream(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
			return b
		}, 6 << 10, "larger than the stream or account takes", true},
		{"larger than the server takes", func(t *testing.T) *bus.Bus {
			return natstest.NewInProcess(t, natsserver.Options{MaxPayload: 16 << 10}).Connect(t, "relay")
		}, 20 << 10, "larger than the 16384 bytes the NATS server takes in one message", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := pgtest.Open(t, "deadtest", nil)
			b := tt.env(t)
			first, large, after1, after2 := event(1), sized(t, tt.size), event(1), event(2)
			for _, ev := range []*whistlev1.Event{first, large, after1, after2} {
				appendInTx(t, db, ev)
			}
			r := &outbox.Relay{DB: db, Bus: b}
			if n, err := r.Flush(ctx); err != nil || n != 3 {
				t.Fatalf("Flush = %d, %v; want the 3 others published and no error", n, err)
			}
			want := []string{first.GetEventId(), after1.GetEventId(), after2.GetEventId()}
			if got := streamOrder(t, b); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("stream holds %v, want %v in this order", got, want)
			}
			if n := unsent(t, db); n != 0 {
				t.Fatalf("%d rows still wait", n)
			}
			var reason string
			var seq *int64
			if err := db.Pool.QueryRow(ctx, `SELECT dead_reason, dead_letter_seq FROM outbox WHERE event_id = $1`,
				large.GetEventId()).Scan(&reason, &seq); err != nil {
				t.Fatal(err)
			}
			dls, err := b.DeadLetters(ctx, "outbox-deadtest", 0, 10)
			if err != nil || len(dls) != 1 {
				t.Fatalf("dead letters of outbox-deadtest: %v, %v; want one", dls, err)
			}
			dl := dls[0]
			if !strings.Contains(reason, tt.reason) || dl.Error != reason || dl.EventID != large.GetEventId() ||
				dl.EventType != events.Reported || dl.Consumer != "outbox-deadtest" || dl.Deliveries != 0 {
				t.Fatalf("dead letter %+v, row's reason %q; want the reason to say %q", dl, reason, tt.reason)
			}
			if held := seq != nil && uint64(*seq) == dl.Seq && len(dl.Data) == tt.size; held != tt.held {
				t.Fatalf("dead letter holds the event: %v (seq %v, %d bytes), want %v", held, seq, len(dl.Data), tt.held)
			}
			if !tt.held && (!strings.Contains(reason, "kept in deadtest.outbox row") ||
				!errors.Is(func() error { _, err := b.ReplayDeadLetter(ctx, dl.Seq); return err }(), bus.ErrNotReplayable)) {
				t.Fatalf("a notice without the event: reason %q must say where it is kept, and it cannot be replayed", reason)
			}
			if n, err := r.Flush(ctx); err != nil || n != 0 {
				t.Fatalf("second Flush = %d, %v; want nothing left", n, err)
			}
			if err := outbox.Purge(ctx, db, time.Now()); err != nil {
				t.Fatal(err)
			}
			var kept []string
			rows, _ := db.Pool.Query(ctx, `SELECT event_id::text FROM outbox`)
			if kept, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
				t.Fatal(err)
			}
			if wantKept := !tt.held; (len(kept) == 1 && kept[0] == large.GetEventId()) != wantKept || (!wantKept && len(kept) != 0) {
				t.Fatalf("after the purge the outbox keeps %v; the only copy of an event must stay, nothing else", kept)
			}
		})
	}
}

// TestRunGoesOnPastAnUnpublishableEvent: a running relay whose batches each
// hold an unpublishable event takes the next batch at once, without waiting
// for a notification or a poll (an hour here), and publishes the rest in order.
func TestRunGoesOnPastAnUnpublishableEvent(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, "deadtest", nil)
	b := natstest.NewInProcess(t, natsserver.Options{MaxPayload: 16 << 10}).Connect(t, "relay")
	var evs []*whistlev1.Event
	var want []string
	for range 3 { // each batch of 2 holds one: the relay's first wake-up alone does not carry it through
		small := event(1)
		evs, want = append(evs, sized(t, 20<<10), small), append(want, small.GetEventId())
	}
	if err := db.InTx(context.Background(), func(ctx context.Context, tx pgx.Tx) error {
		return outbox.Append(ctx, tx, evs...)
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&outbox.Relay{DB: db, Bus: b, Batch: 2, Poll: time.Hour}).Run(ctx) }()
	eventually.True(t, "the events behind the unpublishable one to go out", func() bool {
		return len(streamOrder(t, b)) == len(want)
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := streamOrder(t, b); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("stream holds %v, want %v in this order", got, want)
	}
}

// TestAppendRefusesEventsLargerThanTheLimit: an event of MaxEventSize bytes is
// appended and published by a server of NATS's default max_payload; one byte
// more fails the use case with ErrEventTooLarge (InvalidArgument) and writes
// nothing.
func TestAppendRefusesEventsLargerThanTheLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.Open(t, "relaytest", nil)
	err := db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return outbox.Append(ctx, tx, event(1), sized(t, outbox.MaxEventSize+1))
	})
	if !errors.Is(err, outbox.ErrEventTooLarge) || apperr.KindOf(err) != apperr.InvalidArgument ||
		!strings.Contains(err.Error(), "983041 bytes, more than the 983040") {
		t.Fatalf("Append of %d bytes: %v, want ErrEventTooLarge saying the sizes", outbox.MaxEventSize+1, err)
	}
	if n := unsent(t, db); n != 0 {
		t.Fatalf("a refused append left %d rows", n)
	}
	largest := sized(t, outbox.MaxEventSize)
	appendInTx(t, db, largest)
	b := natstest.NewInProcess(t, natsserver.Options{}).Connect(t, "relay")
	if n, err := (&outbox.Relay{DB: db, Bus: b}).Flush(ctx); err != nil || n != 1 {
		t.Fatalf("Flush of the largest event = %d, %v", n, err)
	}
	if got := streamOrder(t, b); len(got) != 1 || got[0] != largest.GetEventId() {
		t.Fatalf("stream holds %v", got)
	}
}
