package ticket_test

import (
	"testing"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

func TestOrder(t *testing.T) {
	t.Parallel()
	const (
		mono = ticket.Monotonic
		cont = ticket.Contiguous
	)
	tests := []struct {
		name       string
		o          ticket.Ordering
		known, v   int64
		transition bool
		want       ticket.Decision
	}{
		{"first sight, monotonic", mono, 0, 2, true, ticket.Apply},
		{"next, monotonic", mono, 2, 3, true, ticket.Apply},
		{"gap, monotonic applies", mono, 3, 5, true, ticket.Apply},
		{"same version is stale", mono, 3, 3, true, ticket.Stale},
		{"older is stale", mono, 5, 2, true, ticket.Stale},
		{"annotation, monotonic, ahead", mono, 1, 4, false, ticket.Apply},
		{"first event, contiguous", cont, 0, 1, true, ticket.Apply},
		{"next, contiguous", cont, 4, 5, true, ticket.Apply},
		{"gap, contiguous waits", cont, 3, 5, true, ticket.Later},
		{"unknown ticket mid-life, contiguous waits", cont, 0, 3, true, ticket.Later},
		{"stale, contiguous", cont, 5, 5, true, ticket.Stale},
		{"annotation at known version", cont, 4, 4, false, ticket.Apply},
		{"annotation at old version", cont, 6, 4, false, ticket.Apply},
		{"annotation ahead waits", cont, 3, 4, false, ticket.Later},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ticket.Order(tt.o, tt.known, tt.v, tt.transition); got != tt.want {
				t.Fatalf("Order(known=%d, v=%d, transition=%v) = %s, want %s", tt.known, tt.v, tt.transition, got, tt.want)
			}
		})
	}
}
