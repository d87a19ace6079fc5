package response

import (
	"context"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Return refuses an assignment that is not the department's (退单), with a
// reason code and a note. Dispatch re-routes the ticket or sends it to
// arbitration. An arbitrated assignment binds and cannot be returned.
func (s *Service) Return(ctx context.Context, ticketID string, reason int32, note string, actor Actor) (Item, error) {
	return s.act(ctx, "return", ticketID, func(it *Item) (*Announcement, error) {
		if it.Binding && it.mine(actor) == nil {
			return nil, ErrBinding
		}
		if err := it.act(ticket.Return, actor, s.clock.Now()); err != nil {
			return nil, err
		}
		return &Announcement{Kind: "returned", ReturnReason: reason, Note: note}, nil
	})
}
