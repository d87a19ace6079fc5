package telemetry

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// HeaderCarrier adapts NATS message headers to the propagation API.
type HeaderCarrier nats.Header

// Get returns the first value of key.
func (c HeaderCarrier) Get(key string) string { return nats.Header(c).Get(key) }

// Set replaces key's values with value.
func (c HeaderCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

// Keys lists the header names.
func (c HeaderCarrier) Keys() []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	return out
}

// Inject returns the trace context of ctx as a map (traceparent, tracestate,
// baggage), for an outbox row.
func Inject(ctx context.Context) map[string]string {
	m := propagation.MapCarrier{}
	Propagator.Inject(ctx, m)
	return m
}

// Extract returns ctx with the remote span context found in carrier.
func Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	return Propagator.Extract(ctx, carrier)
}

// TraceParent returns the W3C traceparent of ctx's span, or "".
func TraceParent(ctx context.Context) string {
	return Inject(ctx)["traceparent"]
}

// TraceID returns the trace id of ctx's span in hex, or "".
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

// StartTicketSpan starts a span in a ticket's own trace. Each ticket gets a
// trace when it is reported; every service keeps its traceparent. Work on the
// ticket that a caller starts (an RPC from a department's client, say) would
// otherwise land in the caller's trace; this puts it into the ticket's, and
// links it to the caller's span so that both stay navigable. With an empty
// traceparent, the span is a plain child of ctx.
func StartTicketSpan(ctx context.Context, tracer trace.Tracer, name, traceparent string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if traceparent == "" {
		return tracer.Start(ctx, name, opts...)
	}
	parent := Extract(context.Background(), propagation.MapCarrier{"traceparent": traceparent})
	psc := trace.SpanContextFromContext(parent)
	caller := trace.SpanContextFromContext(ctx)
	if !psc.IsValid() || psc.TraceID() == caller.TraceID() {
		return tracer.Start(ctx, name, opts...)
	}
	if caller.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: caller}))
	}
	return tracer.Start(trace.ContextWithRemoteSpanContext(ctx, psc), name, opts...)
}

// TraceIDOf returns the trace id inside a W3C traceparent, or "".
func TraceIDOf(traceparent string) string {
	// version "-" trace-id (32 hex) "-" parent-id (16 hex) "-" flags
	if len(traceparent) < 55 || traceparent[2] != '-' {
		return ""
	}
	return traceparent[3:35]
}

// WithTicketTrace returns ctx carrying a ticket's traceparent as its remote
// span context, so that an event appended with it travels in that ticket's
// own trace: for an event that work on one ticket raises about another.
// With an empty or invalid traceparent it returns ctx as it is.
func WithTicketTrace(ctx context.Context, traceparent string) context.Context {
	parent := Extract(context.Background(), propagation.MapCarrier{"traceparent": traceparent})
	psc := trace.SpanContextFromContext(parent)
	if !psc.IsValid() {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, psc)
}
