package response

import (
	"context"
	"fmt"

	"github.com/whistle-civic/whistle/pkg/events"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Withdraw takes a whistle back for the unit that reported it (撤回) while
// it waits in a department's inbox, not yet accepted: the ticket is
// cancelled and leaves every inbox at once. Once accepted it cannot be
// (ErrInHand); a ticket the inbox has not received yet is ErrNotFound (the
// Go client asks again a few times when dispatch sent it here), one
// returned to dispatch ErrHeldByDispatch. Withdrawing a cancelled
// ticket again answers it as it is.
func (s *Service) Withdraw(ctx context.Context, ticketID, reason string, by Actor) (Item, error) {
	return s.endEarly(ctx, "withdraw", ticketID, func(it *Item) (*Announcement, error) {
		if it.Status == ticket.Cancelled {
			return nil, nil
		}
		if err := it.move(ticket.Cancel, by, s.clock.Now()); err != nil {
			return nil, err
		}
		return &Announcement{Kind: events.Cancelled, Note: reason, Withdrawn: true}, nil
	})
}

// endEarly runs a change that ends a ticket before any department took it
// in hand, in the ticket's trace.
func (s *Service) endEarly(ctx context.Context, verb, ticketID string, fn func(it *Item) (*Announcement, error)) (Item, error) {
	ctx, span := s.ticketSpan(ctx, "response."+verb, ticketID)
	defer span.End()
	var out Item
	err := s.store.Update(ctx, ticketID, func(it *Item) (*Announcement, error) {
		if err := heldHere(*it); err != nil {
			return nil, err
		}
		a, err := fn(it)
		out = *it
		return a, err
	})
	if err != nil {
		return Item{}, fmt.Errorf("%s %s: %w", verb, ticketID, err)
	}
	s.log.InfoContext(ctx, "ticket ended before work", "verb", verb, "ticket", ticketID, "by", out.Actor.ID,
		"org_unit", out.Actor.OrgUnitID)
	return out, nil
}

// heldHere refuses a ticket that is not the inbox's to end early: one not
// received yet, one returned to dispatch, one a department has in hand. A
// final ticket passes: the transition refuses it with its status.
func heldHere(it Item) error {
	switch it.Status {
	case ticket.StatusUnknown:
		return ErrNotFound // not dispatched yet, or its dispatch is still on its way
	case ticket.Returned:
		return ErrHeldByDispatch
	case ticket.Accepted, ticket.Resolved, ticket.Reopened:
		return ErrInHand
	}
	return nil
}
