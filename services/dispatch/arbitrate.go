package dispatch

import (
	"context"
	"fmt"
	"time"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Arbitrate decides which department handles a returned ticket. The decision
// binds: that department can no longer return it. The arbiter must act for
// the org unit where the ticket waits (the street, or the district for city
// departments), or one above it.
func (s *Service) Arbitrate(ctx context.Context, ticketID, dept, note string, by Actor) (Assignment, error) {
	return s.decide(ctx, "arbitrate", ticketID, func(a *Assignment) ([]Announcement, error) {
		return s.arbitrate(a, dept, note, by, s.clock.Now())
	}, by)
}

// arbitrate applies a binding decision to a ticket waiting for arbitration.
func (s *Service) arbitrate(a *Assignment, dept, note string, by Actor, now time.Time) ([]Announcement, error) {
	if !a.Arbitration {
		return nil, ErrNotInArbitration
	}
	cat := s.catalog()
	if err := a.checkServes(cat, dept, by); err != nil {
		return nil, err
	}
	decidedAt := a.TriageOrgUnit
	a.Rule = fmt.Sprintf("arbitrated by %s (%s): %s must handle it: %s", by.ID, by.OrgUnitID, dept, note)
	if err := a.assign(ticket.Arbitrate, dept, a.Assisting, a.clock(cat.Calendar), a.AcceptWithin, a.ResolveWithin, now); err != nil {
		return nil, err
	}
	a.Binding = true
	return []Announcement{{Kind: annArbitrated, Actor: by, Note: note, DecidedBy: decidedAt}}, nil
}
