package response

import (
	"context"
	"fmt"
	"strings"

	"github.com/whistle-civic/whistle/pkg/apperr"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// errBlankResult: a result of only white space.
var errBlankResult = apperr.New(apperr.InvalidArgument, "result must say what was done")

// Resolve records the lead department's result (办结) on an accepted or
// reopened ticket.
func (s *Service) Resolve(ctx context.Context, ticketID string, actor Actor, result string) (Item, error) {
	result = strings.TrimSpace(result)
	if result == "" {
		return Item{}, fmt.Errorf("resolve %s: %w", ticketID, errBlankResult)
	}
	ctx, span := s.ticketSpan(ctx, "response.resolve", ticketID)
	defer span.End()
	var out Item
	err := s.store.Update(ctx, ticketID, func(it *Item) (ticket.Action, error) {
		if it.Status == ticket.StatusUnknown {
			return "", ErrNotFound
		}
		if err := it.act(ticket.Resolve, actor, s.clock.Now()); err != nil {
			return "", err
		}
		it.Result = result
		out = *it
		return ticket.Resolve, nil
	})
	if err != nil {
		return Item{}, fmt.Errorf("resolve %s: %w", ticketID, err)
	}
	s.log.InfoContext(ctx, "ticket resolved", "ticket", ticketID, "department", actor.OrgUnitID, "handler", actor.ID)
	return out, nil
}
