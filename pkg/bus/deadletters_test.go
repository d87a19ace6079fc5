package bus_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/events"
	"github.com/whistle-civic/whistle/pkg/eventually"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/natstest"
)

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// publishEvent publishes an encoded event of the type, as the outbox relay
// does: its id as the message id, and a trace context.
func publishEvent(t *testing.T, b *bus.Bus, eventType string) *whistlev1.Event {
	t.Helper()
	var body proto.Message = &whistlev1.TicketReported{}
	if eventType == events.Closed {
		body = &whistlev1.TicketClosed{}
	}
	ev := events.MustNew(events.Meta{TicketID: ids.New(), Version: 1, Producer: "test", OccurredAt: time.Now()}, body)
	data, err := proto.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	msg := &nats.Msg{Subject: b.Subject(eventType), Data: data, Header: nats.Header{"traceparent": []string{traceparent}}}
	if _, err := b.JetStream().PublishMsg(context.Background(), msg, jetstream.WithMsgID(ev.GetEventId())); err != nil {
		t.Fatal(err)
	}
	return ev
}

// listAll returns every dead letter of the consumer ("" for all).
func listAll(t *testing.T, b *bus.Bus, consumer string) []bus.DeadLetter {
	t.Helper()
	dls, err := b.DeadLetters(context.Background(), consumer, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return dls
}

// decoding is a handler that poisons what pkg/events cannot decode and fails
// (or succeeds, once healthy) on the rest; it records the events it acked.
type decoding struct {
	healthy atomic.Bool
	mu      sync.Mutex
	acked   []*bus.Message
}

func (d *decoding) handle(_ context.Context, m *bus.Message) error {
	if _, err := events.Decode(m.Data); err != nil {
		return bus.Poison(err)
	}
	if !d.healthy.Load() {
		return errors.New("projection table locked")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.acked = append(d.acked, m)
	return nil
}

func (d *decoding) ackedMessages() []*bus.Message {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*bus.Message(nil), d.acked...)
}

func TestDeadLettersShowWhatFailedAndWhy(t *testing.T) {
	t.Parallel()
	b := natstest.New(t).Connect(t, "test")
	h := &decoding{}
	consume(t, b, bus.ConsumerConfig{Name: "svc", EventTypes: []string{events.Reported}, MaxDeliveries: 2}, h.handle)
	ev := publishEvent(t, b, events.Reported)
	publish(t, b, events.Reported, "garbage")
	eventually.True(t, "two dead letters", func() bool { return len(listAll(t, b, "")) == 2 })

	dls := listAll(t, b, "")
	failed, poisoned := dls[0], dls[1]
	if failed.EventID == "" { // the garbage may be dead-lettered first: it is at once
		failed, poisoned = poisoned, failed
	}
	if failed.Consumer != "svc" || failed.Subject != b.Subject(events.Reported) || failed.EventType != events.Reported ||
		failed.Error != "projection table locked" || failed.Deliveries != 2 || failed.EventID != ev.GetEventId() ||
		failed.TicketID != ev.GetTicketId() || time.Since(failed.At) > time.Minute || failed.Seq == 0 ||
		failed.Header.Get("traceparent") != traceparent || failed.Header.Get(jetstream.MsgIDHeader) != "" {
		t.Errorf("failing event's dead letter: %+v", failed)
	}
	if poisoned.Consumer != "svc" || poisoned.EventType != events.Reported || string(poisoned.Data) != "garbage" ||
		!strings.HasPrefix(poisoned.Error, "poison event: decode event") || poisoned.Deliveries != 1 ||
		poisoned.EventID != "" || poisoned.TicketID != "" {
		t.Errorf("undecodable event's dead letter: %+v", poisoned)
	}
}

func TestReplayDeadLetterRedeliversAndRemovesIt(t *testing.T) {
	t.Parallel()
	b := natstest.New(t).Connect(t, "test")
	ctx := context.Background()
	h := &decoding{}
	consume(t, b, bus.ConsumerConfig{Name: "svc", EventTypes: []string{events.Reported}, MaxDeliveries: 1}, h.handle)
	ev := publishEvent(t, b, events.Reported)
	eventually.True(t, "a dead letter", func() bool { return len(listAll(t, b, "svc")) == 1 })
	seq := listAll(t, b, "svc")[0].Seq

	h.healthy.Store(true) // the cause is fixed
	dl, err := b.ReplayDeadLetter(ctx, seq)
	if err != nil || dl.Seq != seq || dl.EventID != ev.GetEventId() {
		t.Fatalf("ReplayDeadLetter(%d) = %+v, %v", seq, dl, err)
	}
	eventually.True(t, "the replayed event acked", func() bool { return len(h.ackedMessages()) == 1 })
	m := h.ackedMessages()[0]
	got, err := events.Decode(m.Data)
	if err != nil || got.GetEventId() != ev.GetEventId() || m.Subject != b.Subject(events.Reported) ||
		m.Header.Get("traceparent") != traceparent || m.Header.Get(jetstream.MsgIDHeader) != fmt.Sprintf("replay:%d", seq) ||
		m.Header.Get(bus.HeaderError) != "" || m.Header.Get(bus.HeaderConsumer) != "" {
		t.Fatalf("replayed message on %s with headers %v: %v, %v", m.Subject, m.Header, got, err)
	}
	eventually.True(t, "every message acked", func() bool { return acked(t, b, "svc") })
	if dls := listAll(t, b, ""); len(dls) != 0 {
		t.Fatalf("dead letters after the replay: %+v", dls)
	}

	// A second replay finds nothing to replay, and publishes nothing.
	if _, err := b.ReplayDeadLetter(ctx, seq); !errors.Is(err, bus.ErrNoDeadLetter) {
		t.Fatalf("second ReplayDeadLetter(%d): %v, want ErrNoDeadLetter", seq, err)
	}
	s, err := b.JetStream().Stream(ctx, b.Stream())
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 2 {
		t.Fatalf("events stream holds %d messages; want 2 (the event and its one replay)", n)
	}
}

func TestReplayedEventThatFailsAgainIsDeadLetteredAgain(t *testing.T) {
	t.Parallel()
	b := natstest.New(t).Connect(t, "test")
	ctx := context.Background()
	h := &decoding{}
	consume(t, b, bus.ConsumerConfig{Name: "svc", EventTypes: []string{events.Reported}, MaxDeliveries: 1}, h.handle)
	ev := publishEvent(t, b, events.Reported)
	eventually.True(t, "a dead letter", func() bool { return len(listAll(t, b, "svc")) == 1 })
	first := listAll(t, b, "svc")[0]
	for range 2 { // the cause is not fixed
		seq := listAll(t, b, "svc")[0].Seq
		if _, err := b.ReplayDeadLetter(ctx, seq); err != nil {
			t.Fatal(err)
		}
		eventually.True(t, "the dead letter again", func() bool {
			dls := listAll(t, b, "svc")
			return len(dls) == 1 && dls[0].Seq > seq
		})
	}
	again := listAll(t, b, "svc")[0]
	if again.EventID != ev.GetEventId() || again.Error != first.Error || again.Subject != first.Subject ||
		again.Header.Get("traceparent") != traceparent {
		t.Fatalf("dead-lettered again as %+v; first as %+v", again, first)
	}
}

func TestReplayWithinTheDuplicateWindowIsDropped(t *testing.T) {
	t.Parallel()
	b := natstest.New(t).Connect(t, "test")
	ctx := context.Background()
	// A replay whose deletion failed: its copy is on the events stream, the
	// dead letter still in the dead-letter stream.
	dl := &nats.Msg{Subject: b.DLQSubject("svc"), Data: []byte("x"), Header: nats.Header{}}
	dl.Header.Set(bus.HeaderSubject, b.Subject(events.Reported))
	dl.Header.Set(bus.HeaderConsumer, "svc")
	ack, err := b.JetStream().PublishMsg(ctx, dl)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, b, events.Reported, fmt.Sprintf("replay:%d", ack.Sequence))
	if _, err := b.ReplayDeadLetter(ctx, ack.Sequence); err != nil {
		t.Fatal(err)
	}
	s, err := b.JetStream().Stream(ctx, b.Stream())
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 1 {
		t.Fatalf("events stream holds %d messages; want 1 (the second copy dropped as a duplicate)", n)
	}
	if dls := listAll(t, b, ""); len(dls) != 0 {
		t.Fatalf("dead letters after the replay: %+v", dls)
	}
}

func TestDiscardDeadLetterRemovesIt(t *testing.T) {
	t.Parallel()
	b := natstest.New(t).Connect(t, "test")
	ctx := context.Background()
	h := &decoding{}
	consume(t, b, bus.ConsumerConfig{Name: "svc", EventTypes: []string{events.Reported}}, h.handle)
	publish(t, b, events.Reported, "garbage-1")
	publish(t, b, events.Reported, "garbage-2")
	eventually.True(t, "two dead letters", func() bool { return len(listAll(t, b, "")) == 2 })
	first := listAll(t, b, "")[0]
	dl, err := b.DiscardDeadLetter(ctx, first.Seq)
	if err != nil || dl.Seq != first.Seq || string(dl.Data) != string(first.Data) {
		t.Fatalf("DiscardDeadLetter(%d) = %+v, %v", first.Seq, dl, err)
	}
	if dls := listAll(t, b, ""); len(dls) != 1 || dls[0].Seq == first.Seq {
		t.Fatalf("dead letters after discarding %d: %+v", first.Seq, dls)
	}
	for name, f := range map[string]func(context.Context, uint64) (bus.DeadLetter, error){
		"DiscardDeadLetter": b.DiscardDeadLetter, "ReplayDeadLetter": b.ReplayDeadLetter,
	} {
		for _, seq := range []uint64{first.Seq, 0, 999} {
			if _, err := f(ctx, seq); !errors.Is(err, bus.ErrNoDeadLetter) {
				t.Errorf("%s(%d): %v, want ErrNoDeadLetter", name, seq, err)
			}
		}
	}
	if len(h.ackedMessages()) != 0 {
		t.Fatal("a discarded event was delivered")
	}
}

func TestDeadLetterWithoutSubjectIsNotReplayable(t *testing.T) {
	t.Parallel()
	b := natstest.New(t).Connect(t, "test")
	ctx := context.Background()
	ack, err := b.JetStream().Publish(ctx, b.DLQSubject("svc"), []byte("dead"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReplayDeadLetter(ctx, ack.Sequence); !errors.Is(err, bus.ErrNotReplayable) {
		t.Fatalf("ReplayDeadLetter: %v, want ErrNotReplayable", err)
	}
	if dls := listAll(t, b, "svc"); len(dls) != 1 || dls[0].Consumer != "svc" || dls[0].Subject != "" {
		t.Fatalf("dead letters: %+v", dls)
	}
	if _, err := b.DiscardDeadLetter(ctx, ack.Sequence); err != nil {
		t.Fatal(err)
	}
}

func TestDeadLettersPageAndFilterByConsumer(t *testing.T) {
	t.Parallel()
	b := natstest.New(t).Connect(t, "test")
	ctx := context.Background()
	for _, name := range []string{"alpha", "beta"} {
		h := &decoding{}
		consume(t, b, bus.ConsumerConfig{Name: name, EventTypes: []string{events.Reported, events.Closed}}, h.handle)
	}
	for i := range 4 {
		publish(t, b, []string{events.Reported, events.Closed}[i%2], fmt.Sprintf("garbage-%d", i))
	}
	eventually.True(t, "eight dead letters", func() bool { return len(listAll(t, b, "")) == 8 })

	var paged []bus.DeadLetter
	for after := uint64(0); ; {
		page, err := b.DeadLetters(ctx, "", after, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 3 {
			t.Fatalf("page of %d with limit 3", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].Seq
	}
	if len(paged) != 8 {
		t.Fatalf("paged through %d dead letters, want 8", len(paged))
	}
	for i := 1; i < len(paged); i++ {
		if paged[i].Seq <= paged[i-1].Seq {
			t.Fatalf("not in sequence order: %d after %d", paged[i].Seq, paged[i-1].Seq)
		}
	}

	// Each consumer is one durable, whatever its types.
	dls := listAll(t, b, "alpha")
	if len(dls) != 4 {
		t.Fatalf("alpha's dead letters: %+v", dls)
	}
	for i, dl := range dls {
		if dl.Consumer != "alpha" || dl.EventType != []string{events.Reported, events.Closed}[i%2] {
			t.Errorf("alpha's dead letter %+v", dl)
		}
	}
	page, err := b.DeadLetters(ctx, "alpha", dls[2].Seq, 0)
	if err != nil || len(page) != 1 || page[0].Seq != dls[3].Seq {
		t.Fatalf("alpha's after %d: %+v, %v", dls[2].Seq, page, err)
	}
	if dls := listAll(t, b, "gamma"); len(dls) != 0 {
		t.Fatalf("an unknown consumer's dead letters: %+v", dls)
	}
	if dls, err := b.DeadLetters(ctx, "", paged[7].Seq, 10); err != nil || len(dls) != 0 {
		t.Fatalf("after the last: %+v, %v", dls, err)
	}
	if _, err := b.DeadLetters(ctx, "alpha.>", 0, 10); err == nil {
		t.Fatal("a wildcard consumer name was accepted")
	}
}
