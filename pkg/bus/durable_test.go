package bus_test

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/eventually"
	"github.com/whistle-civic/whistle/pkg/natstest"
	"github.com/whistle-civic/whistle/pkg/telemetry"
)

// recorder is a Handler that records the data of what it handles, in order.
type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) handle(_ context.Context, m *bus.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, string(m.Data)+":"+m.EventType)
	return nil
}

func (r *recorder) handled() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// consumerNames lists the stream's durable consumers, sorted.
func consumerNames(t *testing.T, b *bus.Bus) []string {
	t.Helper()
	ctx := context.Background()
	s, err := b.JetStream().Stream(ctx, b.Stream())
	if err != nil {
		t.Fatal(err)
	}
	names := s.ConsumerNames(ctx)
	var out []string
	for n := range names.Name() {
		out = append(out, n)
	}
	if err := names.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// counts sums whistle.consumer.messages by outcome and event type ("outcome/type").
func counts(t *testing.T, reader sdkmetric.Reader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if m.Name != "whistle.consumer.messages" || !ok {
				continue
			}
			for _, dp := range sum.DataPoints {
				o, _ := dp.Attributes.Value("outcome")
				typ, _ := dp.Attributes.Value("event_type")
				out[o.AsString()+"/"+typ.AsString()] += dp.Value
			}
		}
	}
	return out
}

// TestOneDurableTakesItsTypesInStreamOrder: a consumer of two event types is
// one durable consumer, which hands over exactly those types in stream
// order, whether the servers filter on both subjects or (before NATS 2.10)
// deliver everything and the other types are acknowledged unhandled.
func TestOneDurableTakesItsTypesInStreamOrder(t *testing.T) {
	t.Parallel()
	for _, oneFilter := range []bool{false, true} {
		name := "filter subjects (if the servers take them)"
		if oneFilter {
			name = "one filter subject per consumer"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := natstest.New(t).Connect(t, "test")
			if oneFilter {
				bus.TakeOneFilterPerConsumer(b)
			}
			reader := sdkmetric.NewManualReader()
			tel := telemetry.Noop()
			tel.Meter = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			for i, typ := range []string{"reported", "dispatched", "closed", "accepted", "reported", "closed", "dispatched"} {
				publish(t, b, typ, string(rune('a'+i)))
			}
			rec := &recorder{}
			consume(t, b, bus.ConsumerConfig{Name: "svc", EventTypes: []string{"reported", "closed"}, Telemetry: tel}, rec.handle)
			want := []string{"a:reported", "c:closed", "e:reported", "f:closed"}
			eventually.True(t, "four events", func() bool { return len(rec.handled()) >= len(want) })
			publish(t, b, "accepted", "h")
			publish(t, b, "closed", "i")
			want = append(want, "i:closed")
			eventually.True(t, "the ninth event", func() bool { return len(rec.handled()) >= len(want) })
			eventually.True(t, "every event acknowledged", func() bool { return acked(t, b, "svc") })
			if got := rec.handled(); !slices.Equal(got, want) {
				t.Fatalf("handled %v; want %v", got, want)
			}
			if got := consumerNames(t, b); !slices.Equal(got, []string{"svc"}) {
				t.Fatalf("durable consumers %v; want svc alone", got)
			}
			c, err := b.JetStream().Consumer(context.Background(), b.Stream(), "svc")
			if err != nil {
				t.Fatal(err)
			}
			cfg := c.CachedInfo().Config
			var wantFilters []string
			if bus.MultiFilter(b) {
				wantFilters = []string{b.Subject("closed"), b.Subject("reported")}
			} else {
				wantFilters = []string{b.Subject(">")}
			}
			if got := append(slices.Clone(cfg.FilterSubjects), cfg.FilterSubject); !slices.Equal(slices.DeleteFunc(got, func(s string) bool { return s == "" }), wantFilters) {
				t.Fatalf("filters %v; want %v", got, wantFilters)
			}
			n := counts(t, reader)
			skipped := map[string]int64{}
			for k, v := range n {
				if o, typ, _ := strings.Cut(k, "/"); o == "skipped" {
					skipped[typ] = v
				}
			}
			wantSkipped := map[string]int64{}
			if !bus.MultiFilter(b) {
				wantSkipped = map[string]int64{"dispatched": 2, "accepted": 2}
			}
			if n["ack/reported"] != 2 || n["ack/closed"] != 3 || !maps.Equal(skipped, wantSkipped) {
				t.Fatalf("whistle.consumer.messages %v; want 2 reported and 3 closed acked, skipped %v", n, wantSkipped)
			}
		})
	}
}

// logRecorder keeps the messages logged to it with their attributes.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// find returns the records with message msg.
func (l *logRecorder) find(msg string) []slog.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []slog.Record
	for _, r := range l.recs {
		if r.Message == msg {
			out = append(out, r)
		}
	}
	return out
}

// durable creates a durable consumer as the former layout did.
func durable(t *testing.T, b *bus.Bus, name, eventType string) jetstream.Consumer {
	t.Helper()
	c, err := b.JetStream().CreateOrUpdateConsumer(context.Background(), b.Stream(), jetstream.ConsumerConfig{
		Durable: name, FilterSubject: b.Subject(eventType), AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: time.Minute, MaxDeliver: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// take fetches n messages from c and acknowledges the first ack of them.
func take(t *testing.T, c jetstream.Consumer, n, ack int) {
	t.Helper()
	batch, err := c.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for m := range batch.Messages() {
		if i < ack {
			if err := m.DoubleAck(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		i++
	}
	if i != n {
		t.Fatalf("fetched %d messages, want %d", i, n)
	}
}

// TestFormerDurablesAreReplaced: the durables of the one-per-type layout
// ("svc-reported", "svc-closed") and of a consumer this one replaces
// ("svc-notes") are deleted at start, once, and the one durable starts at
// the first event any of them had not acknowledged; other consumers stay.
func TestFormerDurablesAreReplaced(t *testing.T) {
	t.Parallel()
	b := natstest.New(t).Connect(t, "test")
	for i, typ := range []string{"reported", "closed", "progressed", "reported", "closed", "progressed"} {
		publish(t, b, typ, string(rune('a'+i)))
	}
	take(t, durable(t, b, "svc-reported", "reported"), 2, 2)   // all acknowledged
	take(t, durable(t, b, "svc-closed", "closed"), 1, 1)       // b acknowledged, e waiting
	take(t, durable(t, b, "svc-notes", "progressed"), 2, 1)    // c acknowledged, f delivered but not
	take(t, durable(t, b, "other-reported", "reported"), 1, 0) // someone else's
	logs := &logRecorder{}
	cfg := bus.ConsumerConfig{Name: "svc", EventTypes: []string{"reported", "closed", "progressed"}, Replaces: []string{"svc-notes"},
		// What the first run had pulled when it stopped comes again after AckWait.
		AckWait: time.Second, Log: slog.New(logs)}
	rec := &recorder{}
	stop := consume(t, b, cfg, rec.handle)
	// svc-notes had not acknowledged f (seq 6) but every event up to c (seq 3);
	// svc-closed every event up to b (seq 2), then e (seq 5) was waiting:
	// the new durable starts at seq 3.
	want := []string{"c:progressed", "d:reported", "e:closed", "f:progressed"}
	eventually.True(t, "four events", func() bool { return len(rec.handled()) >= len(want) })
	eventually.True(t, "every event acknowledged", func() bool { return acked(t, b, "svc") })
	if got := rec.handled(); !slices.Equal(got, want) {
		t.Fatalf("handled %v; want %v", got, want)
	}
	if got := consumerNames(t, b); !slices.Equal(got, []string{"other-reported", "svc"}) {
		t.Fatalf("durable consumers %v; want other-reported and svc", got)
	}
	deleted := logs.find("deleted the durable consumers this one replaces")
	if len(deleted) != 1 {
		t.Fatalf("logged the deletion %d times; want once", len(deleted))
	}
	var names []string
	deleted[0].Attrs(func(a slog.Attr) bool {
		if a.Key == "deleted" {
			names, _ = a.Value.Any().([]string)
		}
		return true
	})
	if !slices.Equal(names, []string{"svc-closed", "svc-notes", "svc-reported"}) {
		t.Fatalf("logged deleted %v; want svc-closed, svc-notes and svc-reported", names)
	}
	// Started again, the durable keeps its position and deletes nothing.
	stop()
	publish(t, b, "closed", "g")
	consume(t, b, cfg, rec.handle)
	want = append(want, "g:closed")
	eventually.True(t, "the seventh event", func() bool { return len(rec.handled()) >= len(want) })
	eventually.True(t, "every event acknowledged", func() bool { return acked(t, b, "svc") })
	if got := rec.handled(); !slices.Equal(got, want) {
		t.Fatalf("handled %v after a restart; want %v", got, want)
	}
	if n := len(logs.find("deleted the durable consumers this one replaces")); n != 1 {
		t.Fatalf("logged a deletion %d times; want once, at the first start", n)
	}
}

// TestDurableWhoseFilterChangesKeepsItsPlace: a durable that took one type
// and now takes two more is recreated where it stood (here: where
// "svc-closed", which it replaces, stood), not from the first event.
func TestDurableWhoseFilterChangesKeepsItsPlace(t *testing.T) {
	t.Parallel()
	b := natstest.New(t).Connect(t, "test")
	for i, typ := range []string{"reported", "closed", "reported", "closed", "accepted"} {
		publish(t, b, typ, string(rune('a'+i)))
	}
	take(t, durable(t, b, "svc", "reported"), 2, 2)
	take(t, durable(t, b, "svc-closed", "closed"), 1, 1)
	rec := &recorder{}
	consume(t, b, bus.ConsumerConfig{Name: "svc", EventTypes: []string{"reported", "closed", "accepted"}}, rec.handle)
	// svc had acknowledged everything of its own, svc-closed b but not d:
	// the durable starts after b.
	want := []string{"c:reported", "d:closed", "e:accepted"}
	eventually.True(t, "three events", func() bool { return len(rec.handled()) >= len(want) })
	eventually.True(t, "every event acknowledged", func() bool { return acked(t, b, "svc") })
	if got := rec.handled(); !slices.Equal(got, want) {
		t.Fatalf("handled %v; want %v", got, want)
	}
	if got := consumerNames(t, b); !slices.Equal(got, []string{"svc"}) {
		t.Fatalf("durable consumers %v; want svc alone", got)
	}
}
