package response

import (
	"context"
	"errors"
	"fmt"

	"github.com/whistle-civic/whistle/pkg/events"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Merging links a duplicate to its original (同一事项).
type Merging struct {
	TicketID, OriginalID string
	Note                 string
	// AcrossMatters allows an original of another matter type.
	AcrossMatters bool
	By            Actor
}

// Merge links a duplicate waiting in a department's inbox (not yet
// accepted) to its original, which must be in an inbox too, open, and of
// the same matter type unless AcrossMatters: the duplicate leaves every
// inbox and its reporter follows the original's outcome.
func (s *Service) Merge(ctx context.Context, m Merging) (Item, error) {
	original, err := s.store.Get(ctx, m.OriginalID)
	switch {
	case errors.Is(err, ErrNotFound):
		return Item{}, fmt.Errorf("merge %s into %s: %w", m.TicketID, m.OriginalID, ErrOriginalNotFound)
	case err != nil:
		return Item{}, fmt.Errorf("merge %s into %s: %w", m.TicketID, m.OriginalID, err)
	case original.Status == ticket.Returned:
		return Item{}, fmt.Errorf("merge %s into %s: %w", m.TicketID, m.OriginalID, ErrOriginalNotInInbox)
	}
	return s.endEarly(ctx, "merge", m.TicketID, func(it *Item) (*Announcement, error) {
		dup, orig := ticket.Side{ID: it.TicketID, Category: it.Category, Status: it.Status},
			ticket.Side{ID: original.TicketID, Category: original.Category, Status: original.Status}
		if err := ticket.MayMerge(dup, orig, m.AcrossMatters); err != nil {
			return nil, err
		}
		if err := it.move(ticket.Merge, m.By, s.clock.Now()); err != nil {
			return nil, err
		}
		return &Announcement{Kind: events.Merged, Note: m.Note, Original: original.TicketID,
			OriginalNumber: original.Number, AcrossMatters: m.AcrossMatters}, nil
	})
}
