package ticket_test

import (
	"testing"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

func TestOnlySatisfiedVerdictsCountAsSatisfied(t *testing.T) {
	t.Parallel()
	for v, want := range map[ticket.Verdict]bool{ticket.VerdictUnknown: false, ticket.Satisfied: true,
		ticket.BasicallySatisfied: true, ticket.Unsatisfied: false, 99: false} {
		if got := v.Satisfied(); got != want {
			t.Errorf("verdict %d: satisfied %v, want %v", v, got, want)
		}
	}
}
