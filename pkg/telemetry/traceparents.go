package telemetry

import (
	"context"

	lru "github.com/hashicorp/golang-lru/v2"
)

// DefaultTraceParents is how many tickets' traces a TraceParents remembers
// unless told otherwise.
const DefaultTraceParents = 65536

// TraceParents remembers the trace (W3C traceparent) each ticket travels in,
// as read from storage by lookup, so that calls on a ticket start their span
// in its trace without reading it again. A ticket's trace is set once, when
// the ticket first reaches a service, and never changes, so a remembered one
// is never stale; a ticket not found yet ("") is not remembered. It keeps
// the most recently used tickets, up to its size. Safe for concurrent use.
type TraceParents struct {
	cache  *lru.Cache[string, string]
	lookup func(ctx context.Context, ticketID string) string
}

// NewTraceParents returns a TraceParents of size tickets (DefaultTraceParents
// when size <= 0) that reads what it does not remember with lookup.
func NewTraceParents(size int, lookup func(ctx context.Context, ticketID string) string) *TraceParents {
	if size <= 0 {
		size = DefaultTraceParents
	}
	cache, _ := lru.New[string, string](size) // fails only for size <= 0
	return &TraceParents{cache: cache, lookup: lookup}
}

// Get returns the ticket's traceparent, or "" when storage has none yet.
func (t *TraceParents) Get(ctx context.Context, ticketID string) string {
	if tp, ok := t.cache.Get(ticketID); ok {
		return tp
	}
	tp := t.lookup(ctx, ticketID)
	if tp != "" {
		t.cache.Add(ticketID, tp)
	}
	return tp
}
