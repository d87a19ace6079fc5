package outbox_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/events"
	"github.com/whistle-civic/whistle/pkg/eventually"
	"github.com/whistle-civic/whistle/pkg/natstest"
	"github.com/whistle-civic/whistle/pkg/outbox"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/telemetry"
)

// TestMessagingSpansFollowTheConventions follows one event from the use
// case that appends it, through the relay that publishes it, to the consumer
// that processes it: the publish and process spans are named and described
// as the semantic conventions say, and they and the database work on both
// sides stay in the use case's trace, each beneath the one before.
func TestMessagingSpansFollowTheConventions(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{ServiceName: "whistle-test", SpanExporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	db, err := postgres.Open(context.Background(), postgres.Config{URL: pgtest.NewDatabase(t), Schema: "spans",
		Tracer: tel.Tracer, ConnectWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := postgres.Migrate(context.Background(), db, nil, nil); err != nil {
		t.Fatal(err)
	}
	b := natstest.New(t).Connect(t, "spans")

	ev := event(1)
	ctx, useCase := tel.Tracer.Tracer("test").Start(context.Background(), "use case")
	err = db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error { return outbox.Append(ctx, tx, ev) })
	useCase.End()
	if err != nil {
		t.Fatal(err)
	}
	relay := &outbox.Relay{DB: db, Bus: b, Telemetry: tel}
	if n, err := relay.Flush(context.Background()); err != nil || n != 1 {
		t.Fatalf("Flush = %d, %v; want 1 row", n, err)
	}

	cctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		err := b.Consume(cctx, bus.ConsumerConfig{Name: "spans-test", EventTypes: []string{events.Reported}, Telemetry: tel},
			func(ctx context.Context, m *bus.Message) error {
				_, err := db.Pool.Exec(ctx, `SELECT 'handled'`)
				return err
			})
		if err != nil {
			t.Error(err)
		}
	})
	subject := b.Subject(events.Reported)
	find := func(name string) (tracetest.SpanStub, bool) {
		for _, s := range exp.GetSpans() {
			if s.Name == name {
				return s, true
			}
		}
		return tracetest.SpanStub{}, false
	}
	eventually.True(t, "the consumer's span", func() bool { _, ok := find("process " + subject); return ok })
	cancel()
	wg.Wait()

	publish, ok := find("publish " + subject)
	if !ok {
		t.Fatalf("no span %q among %v", "publish "+subject, spanNames(exp.GetSpans()))
	}
	process, _ := find("process " + subject)
	checkSpan(t, publish, trace.SpanKindProducer, useCase.SpanContext(), map[string]string{
		"messaging.system":           "nats",
		"messaging.operation.name":   "publish",
		"messaging.operation.type":   "send",
		"messaging.destination.name": subject,
		"messaging.message.id":       ev.GetEventId(),
	})
	checkSpan(t, process, trace.SpanKindConsumer, publish.SpanContext, map[string]string{
		"messaging.system":              "nats",
		"messaging.operation.name":      "process",
		"messaging.operation.type":      "process",
		"messaging.destination.name":    subject,
		"messaging.consumer.group.name": "spans-test",
		"messaging.message.id":          ev.GetEventId(),
	})
	// The database work on either side: the use case's INSERT, the handler's SELECT.
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		byID[s.SpanContext.SpanID()] = s
	}
	for _, want := range []struct {
		text   string
		parent trace.SpanContext
	}{{"INSERT INTO outbox", useCase.SpanContext()}, {"SELECT 'handled'", process.SpanContext}} {
		found := false
		for _, s := range exp.GetSpans() {
			if !strings.HasPrefix(spanAttrs(s)["db.query.text"], want.text) {
				continue
			}
			found = true
			// Beneath the batch (or the statement) pgx runs it in.
			up := s.Parent.SpanID()
			for hops := 0; up != want.parent.SpanID() && hops < 2; hops++ {
				up = byID[up].Parent.SpanID()
			}
			if up != want.parent.SpanID() || s.SpanContext.TraceID() != want.parent.TraceID() {
				t.Errorf("database span %q (%s) is not beneath span %s", s.Name, want.text, want.parent.SpanID())
			}
			if a := spanAttrs(s); s.SpanKind != trace.SpanKindClient || a["db.system.name"] != "postgresql" {
				t.Errorf("database span %q: kind %s, db.system.name %q", s.Name, s.SpanKind, a["db.system.name"])
			}
		}
		if !found {
			t.Errorf("no database span for %q among %v", want.text, spanNames(exp.GetSpans()))
		}
	}
}

// checkSpan asserts s's kind, that it is a child of parent (so in its trace),
// and its attributes.
func checkSpan(t *testing.T, s tracetest.SpanStub, kind trace.SpanKind, parent trace.SpanContext, want map[string]string) {
	t.Helper()
	if s.SpanKind != kind {
		t.Errorf("span %q is a %s span, want %s", s.Name, s.SpanKind, kind)
	}
	if s.SpanContext.TraceID() != parent.TraceID() || s.Parent.SpanID() != parent.SpanID() {
		t.Errorf("span %q in trace %s under %s, want under %s in trace %s", s.Name, s.SpanContext.TraceID(), s.Parent.SpanID(),
			parent.SpanID(), parent.TraceID())
	}
	got := spanAttrs(s)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("span %q: %s = %q, want %q", s.Name, k, got[k], v)
		}
	}
}

func spanAttrs(s tracetest.SpanStub) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

func spanNames(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
