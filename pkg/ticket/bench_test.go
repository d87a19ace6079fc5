package ticket_test

import (
	"testing"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Sinks keep the compiler from dropping work whose result a benchmark ignores.
var (
	sinkStatus ticket.Status
	sinkErr    error
)

// BenchmarkNext measures the state machine's transition check, ticket.Next:
// one op checks every (status, action) pair once — each status, including
// "does not exist yet", against each action — 121 checks, most of them
// refused with a *TransitionError (an allocation each). ns/check is the cost of one check.
func BenchmarkNext(b *testing.B) {
	type pair struct {
		from   ticket.Status
		action ticket.Action
	}
	var pairs []pair
	for _, from := range append([]ticket.Status{ticket.StatusUnknown}, ticket.Statuses()...) {
		for _, a := range ticket.Actions() {
			pairs = append(pairs, pair{from, a})
		}
	}
	allowed := 0
	b.ReportAllocs()
	for b.Loop() {
		allowed = 0
		for _, p := range pairs {
			to, err := ticket.Next(p.from, p.action)
			if err == nil {
				allowed++
			}
			sinkStatus, sinkErr = to, err
		}
	}
	if allowed == 0 || allowed == len(pairs) {
		b.Fatalf("%d of %d pairs allowed", allowed, len(pairs))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pairs)), "ns/check")
}
