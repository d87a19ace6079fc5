package response

import (
	"context"
	"fmt"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Accept reports the lead department in (报到/应哨) on a dispatched ticket.
func (s *Service) Accept(ctx context.Context, ticketID string, actor Actor) (Item, error) {
	ctx, span := s.ticketSpan(ctx, "response.accept", ticketID)
	defer span.End()
	var out Item
	err := s.store.Update(ctx, ticketID, func(it *Item) (ticket.Action, error) {
		if it.Status == ticket.StatusUnknown {
			return "", ErrNotFound
		}
		if err := it.act(ticket.Accept, actor, s.clock.Now()); err != nil {
			return "", err
		}
		out = *it
		return ticket.Accept, nil
	})
	if err != nil {
		return Item{}, fmt.Errorf("accept %s: %w", ticketID, err)
	}
	s.log.InfoContext(ctx, "ticket accepted", "ticket", ticketID, "department", actor.OrgUnitID, "handler", actor.ID)
	return out, nil
}
