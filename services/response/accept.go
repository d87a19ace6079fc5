package response

import (
	"context"
	"fmt"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Accept reports the lead department in (报到/应哨) on a dispatched ticket.
func (s *Service) Accept(ctx context.Context, ticketID string, actor Actor) (Item, error) {
	return s.act(ctx, "accept", ticketID, func(it *Item) (*Announcement, error) {
		return &Announcement{Kind: "accepted"}, it.act(ticket.Accept, actor, s.clock.Now())
	})
}

// act runs a department's action in the ticket's trace and returns the item after it.
func (s *Service) act(ctx context.Context, verb, ticketID string, fn func(it *Item) (*Announcement, error)) (Item, error) {
	ctx, span := s.ticketSpan(ctx, "response."+verb, ticketID)
	defer span.End()
	var out Item
	err := s.store.Update(ctx, ticketID, func(it *Item) (*Announcement, error) {
		a, err := fn(it)
		out = *it
		return a, err
	})
	if err != nil {
		return Item{}, fmt.Errorf("%s %s: %w", verb, ticketID, err)
	}
	s.log.InfoContext(ctx, "department acted", "verb", verb, "ticket", ticketID, "department", out.DepartmentID, "handler", out.Actor.ID)
	return out, nil
}
