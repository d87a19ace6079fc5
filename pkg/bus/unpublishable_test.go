package bus_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/natstest"
)

// TestDeadLetterUnpublished: an event a producer could not publish is listed
// with its source, subject, event id and reason, carrying its own headers but
// no Nats-* one; a repeat within the duplicate window adds nothing; a notice
// without the event cannot be replayed; a source that is no subject token is
// refused.
func TestDeadLetterUnpublished(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := natstest.New(t).Connect(t, "test")
	id := ids.New()
	u := bus.Unpublishable{Source: "outbox-intake", Subject: b.Subject("reported"), EventID: id, Reason: "too large",
		Header: nats.Header{"traceparent": []string{traceparent}, jetstream.MsgIDHeader: []string{id}}}
	first, err := b.DeadLetterUnpublished(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := b.DeadLetterUnpublished(ctx, u); err != nil || again != first {
		t.Fatalf("repeat = %d, %v; want the first one's sequence %d", again, err, first)
	}
	dls := listAll(t, b, "outbox-intake")
	if len(dls) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dls))
	}
	dl := dls[0]
	if dl.Seq != first || dl.Consumer != "outbox-intake" || dl.EventType != "reported" || dl.EventID != id ||
		dl.Error != "too large" || dl.Deliveries != 0 || dl.Header.Get("traceparent") != traceparent || dl.Header.Get(jetstream.MsgIDHeader) != "" {
		t.Fatalf("dead letter %+v", dl)
	}
	if _, err := b.ReplayDeadLetter(ctx, dl.Seq); !errors.Is(err, bus.ErrNotReplayable) {
		t.Fatalf("replaying a notice without its event: %v, want ErrNotReplayable", err)
	}
	if _, err := b.DeadLetterUnpublished(ctx, bus.Unpublishable{Source: "outbox.intake", EventID: id}); err == nil {
		t.Fatal("a source with a dot was taken")
	}
}
