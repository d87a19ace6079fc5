package dispatch

import (
	"context"
	"fmt"
	"time"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// DecideExtension grants or refuses a department's pending request for more
// time (延期). The decider acts for the ticket's street or one above it; a
// grant moves the resolve deadline to the date asked for, or to due when set.
func (s *Service) DecideExtension(ctx context.Context, ticketID string, granted bool, due time.Time, note string, by Actor) (Assignment, error) {
	ctx, span := s.ticketSpan(ctx, "dispatch.decide_extension", ticketID)
	defer span.End()
	var out Assignment
	err := s.store.Update(ctx, ticketID, func(a *Assignment) ([]Announcement, error) {
		if a.Status == ticket.StatusUnknown {
			return nil, ErrNotFound
		}
		if a.ExtensionDue.IsZero() || (a.Status != ticket.Accepted && a.Status != ticket.Reopened) {
			return nil, ErrNoExtensionPending
		}
		cat := s.catalog()
		street := cat.supervisor(a.Facts.GridID, 1)
		if !cat.Within(street, by.OrgUnitID) {
			return nil, fmt.Errorf("%w: you act for %q; extensions of ticket %s are decided by %s", ErrOutOfArea, by.OrgUnitID, a.Number, street)
		}
		if due.IsZero() {
			due = a.ExtensionDue
		}
		if granted && !due.After(a.ResolveDue) {
			return nil, ErrExtensionTooEarly
		}
		if granted {
			a.ResolveDue = due
			if a.PausedAt.IsZero() {
				a.NextCheck = due
			}
		}
		a.ExtensionDue, a.ExtensionReason = time.Time{}, ""
		a.touch(s.clock.Now())
		out = *a
		return []Announcement{{Kind: annExtensionDecided, Actor: by, Granted: granted, Note: note, DecidedBy: street}}, nil
	})
	if err != nil {
		return Assignment{}, fmt.Errorf("decide extension of %s: %w", ticketID, err)
	}
	return out, nil
}
