package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

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

// Merge links a duplicate dispatch holds (waiting to be routed, or in triage)
// to its original: the duplicate becomes merged and its reporter follows the
// original's outcome. The original must be open and, unless AcrossMatters,
// of the same matter type. A duplicate in a department's inbox is the
// response service's to merge (ErrHeldByResponse).
func (s *Service) Merge(ctx context.Context, m Merging) (Assignment, error) {
	ctx, span := s.ticketSpan(ctx, "dispatch.merge", m.TicketID)
	defer span.End()
	original, err := s.store.Get(ctx, m.OriginalID)
	if errors.Is(err, ErrNotFound) {
		err = ErrOriginalNotFound
	}
	if err != nil {
		return Assignment{}, fmt.Errorf("merge %s into %s: %w", m.TicketID, m.OriginalID, err)
	}
	var out Assignment
	err = s.store.Update(ctx, m.TicketID, func(a *Assignment) ([]Announcement, error) {
		anns, err := merge(a, original, m, s.clock.Now())
		out = *a
		return anns, err
	})
	if err != nil {
		return Assignment{}, fmt.Errorf("merge %s into %s: %w", m.TicketID, m.OriginalID, err)
	}
	s.log.InfoContext(ctx, "duplicate merged", "ticket", m.TicketID, "original", m.OriginalID, "by", m.By.ID,
		"org_unit", m.By.OrgUnitID)
	return out, nil
}

// merge links a, a duplicate dispatch holds, to original.
func merge(a *Assignment, original Assignment, m Merging, now time.Time) ([]Announcement, error) {
	if err := heldHere(a); err != nil {
		return nil, err
	}
	dup, orig := ticket.Side{ID: a.TicketID, Category: a.Facts.Category, Status: a.Status},
		ticket.Side{ID: original.TicketID, Category: original.Facts.Category, Status: original.Status}
	if err := ticket.MayMerge(dup, orig, m.AcrossMatters); err != nil {
		return nil, err
	}
	a.Rule = fmt.Sprintf("merged into %s by %s (%s): %s", original.Number, m.By.ID, m.By.OrgUnitID, strings.TrimSpace(m.Note))
	ann := Announcement{Kind: annMerged, Actor: m.By, Note: m.Note, Original: original.TicketID,
		OriginalNumber: original.Number, AcrossMatters: m.AcrossMatters}
	return []Announcement{ann}, a.endEarly(ticket.Merge, now)
}
