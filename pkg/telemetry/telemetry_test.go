package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/whistle-civic/whistle/pkg/telemetry"
)

func setup(t *testing.T) (*telemetry.Telemetry, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{ServiceName: "whistle-test", SpanExporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return tel, exp
}

func TestTicketSpanJoinsTicketTraceAndLinksCaller(t *testing.T) {
	tel, exp := setup(t)
	tr := tel.Tracer.Tracer("test")
	reportCtx, report := tr.Start(context.Background(), "report")
	tp := telemetry.TraceParent(reportCtx)
	report.End()

	callerCtx, rpc := tr.Start(context.Background(), "accept RPC")
	_, work := telemetry.StartTicketSpan(callerCtx, tr, "accept", tp)
	work.End()
	rpc.End()

	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("got %d spans", len(spans))
	}
	accept := spans[1]
	if accept.SpanContext.TraceID() != report.SpanContext().TraceID() {
		t.Fatalf("accept span in trace %s, ticket trace %s", accept.SpanContext.TraceID(), report.SpanContext().TraceID())
	}
	if len(accept.Links) != 1 || accept.Links[0].SpanContext.SpanID() != rpc.SpanContext().SpanID() {
		t.Fatalf("accept span links %v, want the RPC span", accept.Links)
	}
}

func TestInjectExtractRoundTrip(t *testing.T) {
	tel, _ := setup(t)
	ctx, span := tel.Tracer.Tracer("test").Start(context.Background(), "x")
	defer span.End()
	h := telemetry.HeaderCarrier{}
	for k, v := range telemetry.Inject(ctx) {
		h.Set(k, v)
	}
	got := trace.SpanContextFromContext(telemetry.Extract(context.Background(), h))
	if got.TraceID() != span.SpanContext().TraceID() || got.SpanID() != span.SpanContext().SpanID() {
		t.Fatalf("extracted %v, want %v", got, span.SpanContext())
	}
}

func TestLoggerAddsTraceIDs(t *testing.T) {
	tel, _ := setup(t)
	var buf bytes.Buffer
	log := telemetry.NewLogger(&buf, slog.LevelInfo)
	ctx, span := tel.Tracer.Tracer("test").Start(context.Background(), "x")
	log.InfoContext(ctx, "hello")
	span.End()
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["trace_id"] != span.SpanContext().TraceID().String() || rec["span_id"] != span.SpanContext().SpanID().String() {
		t.Fatalf("log record %v lacks the span's ids", rec)
	}
}
