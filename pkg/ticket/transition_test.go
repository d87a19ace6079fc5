package ticket_test

import (
	"errors"
	"fmt"
	"testing"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// allowed is the lifecycle written out by hand from docs/architecture.md, one
// line per permitted move. Every other (status, action) pair must be refused.
var allowed = map[ticket.Status]map[ticket.Action]ticket.Status{
	ticket.StatusUnknown: {ticket.Report: ticket.Reported},
	ticket.Reported: {
		ticket.SendToTriage: ticket.Triage, ticket.Dispatch: ticket.Dispatched,
		ticket.Merge: ticket.Merged, ticket.Cancel: ticket.Cancelled,
	},
	ticket.Triage: {
		ticket.Dispatch: ticket.Dispatched, ticket.Arbitrate: ticket.Dispatched,
		ticket.Merge: ticket.Merged, ticket.Cancel: ticket.Cancelled,
	},
	ticket.Dispatched: {
		ticket.Accept: ticket.Accepted, ticket.Return: ticket.Returned,
		ticket.Merge: ticket.Merged, ticket.Cancel: ticket.Cancelled,
	},
	ticket.Accepted: {
		ticket.Resolve: ticket.Resolved, ticket.Return: ticket.Returned, ticket.Cancel: ticket.Cancelled,
	},
	ticket.Resolved: {ticket.Close: ticket.Closed, ticket.Reopen: ticket.Reopened},
	ticket.Returned: {
		ticket.SendToTriage: ticket.Triage, ticket.Dispatch: ticket.Dispatched,
		ticket.Arbitrate: ticket.Dispatched, ticket.Cancel: ticket.Cancelled,
	},
	ticket.Reopened:  {ticket.Resolve: ticket.Resolved, ticket.Cancel: ticket.Cancelled},
	ticket.Closed:    {},
	ticket.Merged:    {},
	ticket.Cancelled: {},
}

func TestNextEveryPair(t *testing.T) {
	t.Parallel()
	statuses := append([]ticket.Status{ticket.StatusUnknown}, ticket.Statuses()...)
	actions := append(ticket.Actions(), ticket.Action("teleport"))
	for _, from := range statuses {
		for _, a := range actions {
			t.Run(fmt.Sprintf("%s/%s", from, a), func(t *testing.T) {
				t.Parallel()
				to, err := ticket.Next(from, a)
				want, ok := allowed[from][a]
				if ok {
					if err != nil || to != want {
						t.Fatalf("Next(%s, %s) = %s, %v; want %s", from, a, to, err, want)
					}
					return
				}
				var te *ticket.TransitionError
				if !errors.As(err, &te) || !errors.Is(err, ticket.ErrInvalidTransition) {
					t.Fatalf("Next(%s, %s) = %s, %v; want a TransitionError", from, a, to, err)
				}
				if to != from {
					t.Fatalf("refused Next(%s, %s) moved the ticket to %s", from, a, to)
				}
				if te.From != from || te.Action != a {
					t.Fatalf("error names %s/%s, want %s/%s", te.From, te.Action, from, a)
				}
			})
		}
	}
}

func TestTargetIsWhereEveryAllowedMoveLeads(t *testing.T) {
	t.Parallel()
	for from, moves := range allowed {
		for a, to := range moves {
			if got := ticket.Target(a); got != to {
				t.Errorf("Target(%s) = %s, but %s from %s leads to %s", a, got, a, from, to)
			}
		}
	}
	if got := ticket.Target("teleport"); got != ticket.StatusUnknown {
		t.Errorf("Target of an unknown action = %s", got)
	}
}

func TestFinalStatusesAllowNothing(t *testing.T) {
	t.Parallel()
	for _, s := range ticket.Statuses() {
		if got := len(ticket.Allowed(s)) == 0; got != s.Final() {
			t.Errorf("%s: Final()=%v but allowed actions %v", s, s.Final(), ticket.Allowed(s))
		}
		if s.Final() != (s.Holder() == "") {
			t.Errorf("%s: Final()=%v but holder %q", s, s.Final(), s.Holder())
		}
	}
}

func TestEveryNonFinalStatusReachesClosed(t *testing.T) {
	t.Parallel()
	for _, s := range ticket.Statuses() {
		if s.Final() {
			continue
		}
		if !reaches(s, ticket.Closed, map[ticket.Status]bool{}) {
			t.Errorf("%s cannot reach CLOSED", s)
		}
	}
}

func reaches(from, to ticket.Status, seen map[ticket.Status]bool) bool {
	if from == to {
		return true
	}
	seen[from] = true
	for _, a := range ticket.Allowed(from) {
		next, _ := ticket.Next(from, a)
		if !seen[next] && reaches(next, to, seen) {
			return true
		}
	}
	return false
}

func TestStatusMatchesProtoEnum(t *testing.T) {
	t.Parallel()
	for v, name := range whistlev1.TicketStatus_name {
		if v == 0 {
			continue
		}
		s := ticket.Status(v)
		if "TICKET_STATUS_"+s.String() != name {
			t.Errorf("status %d: Go name %s, proto name %s", v, s, name)
		}
		back, err := ticket.ParseStatus(s.String())
		if err != nil || back != s {
			t.Errorf("ParseStatus(%s) = %v, %v", s, back, err)
		}
	}
	if len(ticket.Statuses()) != len(whistlev1.TicketStatus_name)-1 {
		t.Errorf("Go has %d statuses, proto %d", len(ticket.Statuses()), len(whistlev1.TicketStatus_name)-1)
	}
}

func TestTransitionErrorMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		from ticket.Status
		a    ticket.Action
		want string
	}{
		{ticket.Dispatched, ticket.Resolve, "cannot resolve a DISPATCHED ticket (allowed: [accept return merge cancel])"},
		{ticket.Closed, ticket.Reopen, "cannot reopen a CLOSED ticket: it is final"},
		{ticket.StatusUnknown, ticket.Accept, "cannot accept a ticket that does not exist"},
	}
	for _, tt := range tests {
		_, err := ticket.Next(tt.from, tt.a)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Next(%s, %s) error = %v, want %q", tt.from, tt.a, err, tt.want)
		}
	}
}
