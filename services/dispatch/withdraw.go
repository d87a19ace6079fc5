package dispatch

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Withdraw takes a whistle back for the unit that reported it (撤回), while
// dispatch holds the ticket: waiting to be routed, in triage or returned.
// The ticket is cancelled and leaves triage at once. A ticket in a
// department's inbox is the response service's to withdraw
// (ErrHeldByResponse); one a department accepted cannot be (ErrInHand).
// Withdrawing a cancelled ticket again answers it as it is.
func (s *Service) Withdraw(ctx context.Context, ticketID, reason string, by Actor) (Assignment, error) {
	ctx, span := s.ticketSpan(ctx, "dispatch.withdraw", ticketID)
	defer span.End()
	var out Assignment
	err := s.store.Update(ctx, ticketID, func(a *Assignment) ([]Announcement, error) {
		anns, err := withdraw(a, reason, by, s.clock.Now())
		out = *a
		return anns, err
	})
	if err != nil {
		return Assignment{}, fmt.Errorf("withdraw %s: %w", ticketID, err)
	}
	s.log.InfoContext(ctx, "whistle withdrawn", "ticket", ticketID, "by", by.ID, "org_unit", by.OrgUnitID)
	return out, nil
}

// withdraw cancels a ticket dispatch holds, for its reporter.
func withdraw(a *Assignment, reason string, by Actor, now time.Time) ([]Announcement, error) {
	if err := heldHere(a); err != nil || a.Status == ticket.Cancelled {
		return nil, err
	}
	a.Rule = fmt.Sprintf("withdrawn by %s (%s): %s", by.ID, by.OrgUnitID, strings.TrimSpace(reason))
	return []Announcement{{Kind: annCancelled, Actor: by, Note: reason, Withdrawn: true}}, a.endEarly(ticket.Cancel, now)
}

// heldHere refuses a ticket that is not dispatch's to end early: one it has
// not seen, one in a department's inbox (the response service's), one a
// department has in hand. A final ticket passes: the transition refuses it
// with its status, except a cancelled one, which callers answer as it is.
func heldHere(a *Assignment) error {
	switch a.Status {
	case ticket.StatusUnknown:
		return ErrNotFound
	case ticket.Dispatched:
		return ErrHeldByResponse
	case ticket.Accepted, ticket.Resolved, ticket.Reopened:
		return ErrInHand
	}
	return nil
}

// endEarly ends a ticket dispatch holds by action (cancel, merge): nothing
// waits for a person or a deadline any more.
func (a *Assignment) endEarly(action ticket.Action, now time.Time) error {
	a.Arbitration, a.NextCheck = false, time.Time{}
	return a.move(action, now)
}
