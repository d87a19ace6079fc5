package bus_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/eventually"
	"github.com/whistle-civic/whistle/pkg/natstest"
)

func publish(t *testing.T, b *bus.Bus, eventType, id string) {
	t.Helper()
	msg := &nats.Msg{Subject: b.Subject(eventType), Data: []byte(id)}
	if _, err := b.JetStream().PublishMsg(context.Background(), msg, jetstream.WithMsgID(id)); err != nil {
		t.Fatal(err)
	}
}

// consume runs Consume until the test ends or the returned stop is called.
func consume(t *testing.T, b *bus.Bus, cfg bus.ConsumerConfig, h bus.Handler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Consume(ctx, cfg, h) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Consume: %v", err)
		}
	})
	t.Cleanup(stop)
	return stop
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
	eventually.True(t, "two events", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })
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
	eventually.True(t, "a dead letter", func() bool { return len(deadLetters(t, b)) == 1 })
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
	eventually.True(t, "two dead letters", func() bool { return len(deadLetters(t, b)) == 2 })
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
	eventually.True(t, "the third delivery", func() bool { return calls.Load() == 3 })
	if dl := deadLetters(t, b); len(dl) != 0 {
		t.Fatalf("%d dead letters", len(dl))
	}
}

// acked reports whether the durable consumer has acknowledged everything.
func acked(t *testing.T, b *bus.Bus, durable string) bool {
	t.Helper()
	c, err := b.JetStream().Consumer(context.Background(), b.Stream(), durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	info := c.CachedInfo()
	return info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Stream > 0
}

func TestWaitingIsNotFailing(t *testing.T) {
	t.Parallel()
	const forever = -1
	for _, tc := range []struct {
		name     string
		laters   int // how often the handler answers ErrLater
		maxWait  time.Duration
		old      bool // the event is older than maxWait when first delivered
		wantDead bool
	}{
		{name: "waits longer than MaxDeliveries, then is applied", laters: 15},
		{name: "old event waits, then is applied", laters: 5, maxWait: 300 * time.Millisecond, old: true},
		{name: "waits longer than MaxWait", laters: forever, maxWait: 300 * time.Millisecond, wantDead: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := natstest.New(t).Connect(t, "test")
			published := time.Now()
			publish(t, b, "reported", "x")
			if tc.old {
				eventually.True(t, "the event to age", func() bool { return time.Since(published) > tc.maxWait })
			}
			var calls atomic.Int32
			consume(t, b, bus.ConsumerConfig{Name: "svc", MaxDeliveries: 3, LaterDelay: 5 * time.Millisecond, MaxWait: tc.maxWait},
				func(_ context.Context, m *bus.Message) error {
					if n := calls.Add(1); tc.laters == forever || int(n) <= tc.laters {
						return bus.ErrLater
					}
					return nil
				})
			if !tc.wantDead {
				eventually.True(t, "the ack", func() bool { return acked(t, b, "svc") })
				if n, dl := calls.Load(), deadLetters(t, b); int(n) != tc.laters+1 || len(dl) != 0 {
					t.Fatalf("handler called %d times, %d dead letters; want %d calls and none", n, len(dl), tc.laters+1)
				}
				return
			}
			eventually.True(t, "a dead letter", func() bool { return len(deadLetters(t, b)) == 1 })
			if n := calls.Load(); n <= 3 {
				t.Errorf("handler called %d times; want more than MaxDeliveries (3)", n)
			}
			if reason := deadLetters(t, b)[0].Headers().Get(bus.HeaderError); !strings.Contains(reason, "waited too long for earlier events") {
				t.Fatalf("dead letter's reason %q; want it to say it waited too long", reason)
			}
		})
	}
}

// TestUnacknowledgedDeliveriesAreDeadLettered plays a handler that crashes the
// service on an event: its deliveries are never settled.
func TestUnacknowledgedDeliveriesAreDeadLettered(t *testing.T) {
	t.Parallel()
	b := natstest.New(t).Connect(t, "test")
	ctx := context.Background()
	publish(t, b, "reported", "x")
	c, err := b.JetStream().CreateOrUpdateConsumer(ctx, b.Stream(), jetstream.ConsumerConfig{
		Durable: "svc", FilterSubject: b.Subject(">"), AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 100 * time.Millisecond, MaxDeliver: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	for delivered := 0; delivered < 3; {
		batch, err := c.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for range batch.Messages() {
			delivered++ // and never settled
		}
	}
	var calls atomic.Int32
	consume(t, b, bus.ConsumerConfig{Name: "svc", MaxDeliveries: 3, MaxUnsettled: 3, AckWait: 100 * time.Millisecond},
		func(_ context.Context, m *bus.Message) error {
			calls.Add(1)
			return nil
		})
	eventually.True(t, "a dead letter", func() bool { return len(deadLetters(t, b)) == 1 })
	if n := calls.Load(); n != 0 {
		t.Errorf("handler called %d times; want 0", n)
	}
	if reason := deadLetters(t, b)[0].Headers().Get(bus.HeaderError); !strings.Contains(reason, "delivered 3 times without being acknowledged") {
		t.Fatalf("dead letter's reason %q; want it to say it was never acknowledged", reason)
	}
}

// TestWaitingAcrossARestartIsNotFailing: a message that waited many times
// in an earlier run of the service (its deliveries were never settled here)
// still waits, then applies, in the next run; it is not dead-lettered.
func TestWaitingAcrossARestartIsNotFailing(t *testing.T) {
	t.Parallel()
	b := natstest.New(t).Connect(t, "test")
	ctx := context.Background()
	publish(t, b, "reported", "x")
	c, err := b.JetStream().CreateOrUpdateConsumer(ctx, b.Stream(), jetstream.ConsumerConfig{
		Durable: "svc", FilterSubject: b.Subject(">"), AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: time.Second, MaxDeliver: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	for waited := 0; waited < 12; { // the earlier run: "later", twelve times
		batch, err := c.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for msg := range batch.Messages() {
			_ = msg.Nak()
			waited++
		}
	}
	var calls atomic.Int32
	consume(t, b, bus.ConsumerConfig{Name: "svc", MaxDeliveries: 3, LaterDelay: 10 * time.Millisecond},
		func(_ context.Context, m *bus.Message) error {
			if calls.Add(1) < 3 {
				return bus.ErrLater
			}
			return nil
		})
	eventually.True(t, "the event applied", func() bool { return calls.Load() == 3 })
	if dl := deadLetters(t, b); len(dl) != 0 {
		t.Fatalf("dead-lettered: %s", dl[0].Headers().Get(bus.HeaderError))
	}
}
