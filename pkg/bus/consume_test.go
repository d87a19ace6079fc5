package bus_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/natstest"
)

func publish(t *testing.T, b *bus.Bus, eventType, id string) {
	t.Helper()
	msg := &nats.Msg{Subject: b.Subject(eventType), Data: []byte(id)}
	if _, err := b.JetStream().PublishMsg(context.Background(), msg, jetstream.WithMsgID(id)); err != nil {
		t.Fatal(err)
	}
}

func consume(t *testing.T, b *bus.Bus, cfg bus.ConsumerConfig, h bus.Handler) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Consume(ctx, cfg, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Consume: %v", err)
		}
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// deadLetters returns the messages on the dead-letter stream.
func deadLetters(t *testing.T, b *bus.Bus) []jetstream.Msg {
	t.Helper()
	ctx := context.Background()
	c, err := b.JetStream().OrderedConsumer(ctx, b.Stream()+"_DLQ", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.FetchNoWait(100)
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.Msg
	for m := range batch.Messages() {
		out = append(out, m)
	}
	return out
}

func TestConsumeAcksAndFiltersByType(t *testing.T) {
	t.Parallel()
	b := natstest.New(t).Connect(t, "test")
	var mu sync.Mutex
	got := map[string]string{}
	consume(t, b, bus.ConsumerConfig{Name: "svc", EventTypes: []string{"reported", "closed"}},
		func(_ context.Context, m *bus.Message) error {
			mu.Lock()
			defer mu.Unlock()
			got[string(m.Data)] = m.EventType
			return nil
		})
	publish(t, b, "reported", "a")
	publish(t, b, "dispatched", "b")
	publish(t, b, "closed", "c")
	waitFor(t, "two events", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })
	mu.Lock()
	defer mu.Unlock()
	if got["a"] != "reported" || got["c"] != "closed" || got["b"] != "" {
		t.Fatalf("handled %v; want a (reported) and c (closed) only", got)
	}
}

func TestFailingEventIsRetriedThenDeadLettered(t *testing.T) {
	t.Parallel()
	b := natstest.New(t).Connect(t, "test")
	var calls atomic.Int32
	consume(t, b, bus.ConsumerConfig{Name: "svc", MaxDeliveries: 3},
		func(_ context.Context, m *bus.Message) error {
			calls.Add(1)
			return errors.New("database on fire")
		})
	publish(t, b, "reported", "x")
	waitFor(t, "a dead letter", func() bool { return len(deadLetters(t, b)) == 1 })
	if n := calls.Load(); n != 3 {
		t.Fatalf("handler called %d times, want 3 (MaxDeliveries)", n)
	}
	dl := deadLetters(t, b)[0]
	if string(dl.Data()) != "x" || dl.Headers().Get(bus.HeaderError) != "database on fire" ||
		dl.Headers().Get(bus.HeaderConsumer) != "svc" || dl.Headers().Get(bus.HeaderDeliveries) != "3" ||
		dl.Headers().Get(bus.HeaderSubject) != b.Subject("reported") {
		t.Fatalf("dead letter %q with headers %v", dl.Data(), dl.Headers())
	}
}

func TestPoisonIsDeadLetteredAtOnceAndPanicsAreCaught(t *testing.T) {
	t.Parallel()
	b := natstest.New(t).Connect(t, "test")
	var calls atomic.Int32
	consume(t, b, bus.ConsumerConfig{Name: "svc", MaxDeliveries: 5},
		func(_ context.Context, m *bus.Message) error {
			calls.Add(1)
			if string(m.Data) == "panic" {
				panic("nil map")
			}
			return bus.Poison(errors.New("cannot decode"))
		})
	publish(t, b, "reported", "poison")
	publish(t, b, "reported", "panic")
	waitFor(t, "two dead letters", func() bool { return len(deadLetters(t, b)) == 2 })
	if n := calls.Load(); n != 1+5 {
		t.Fatalf("handler called %d times, want 1 for poison + 5 for the panic", n)
	}
}

func TestLaterIsRedelivered(t *testing.T) {
	t.Parallel()
	b := natstest.New(t).Connect(t, "test")
	var calls atomic.Int32
	consume(t, b, bus.ConsumerConfig{Name: "svc"},
		func(_ context.Context, m *bus.Message) error {
			if calls.Add(1) < 3 {
				return bus.ErrLater
			}
			return nil
		})
	publish(t, b, "reported", "x")
	waitFor(t, "the third delivery", func() bool { return calls.Load() == 3 })
	if dl := deadLetters(t, b); len(dl) != 0 {
		t.Fatalf("%d dead letters", len(dl))
	}
}
