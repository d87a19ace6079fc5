package dispatch

import (
	"context"
	"fmt"
	"github.com/whistle-civic/whistle/pkg/calendar"
	"strings"
	"time"

	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// ManualDispatch is a person's choice of department for a ticket in triage.
type ManualDispatch struct {
	TicketID                    string
	Lead                        string
	Assisting                   []string
	AcceptWithin, ResolveWithin calendar.Window
	Note                        string
	By                          Actor
}

// DispatchByHand sends a ticket waiting in triage to the department a person
// chose. The person must act for the org unit where it waits (or above), and
// the departments must serve the ticket's grid.
func (s *Service) DispatchByHand(ctx context.Context, m ManualDispatch) (Assignment, error) {
	if m.ResolveWithin.Wall() < m.AcceptWithin.Wall() {
		return Assignment{}, fmt.Errorf("dispatch %s: %w", m.TicketID, ErrBadWindows)
	}
	return s.decide(ctx, "dispatch", m.TicketID, func(a *Assignment) ([]Announcement, error) {
		return s.dispatchByHand(a, m, s.clock.Now())
	}, m.By)
}

// dispatchByHand applies a person's choice of department to a ticket in triage.
func (s *Service) dispatchByHand(a *Assignment, m ManualDispatch, now time.Time) ([]Announcement, error) {
	if a.Arbitration {
		return nil, ErrArbitrationPending
	}
	cat := s.catalog()
	for _, d := range append([]string{m.Lead}, m.Assisting...) {
		if err := a.checkServes(cat, d, m.By); err != nil {
			return nil, err
		}
	}
	c := calendar.Clock{Cal: cat.Calendar, Wall: a.Facts.Kind == kindEmergency}
	a.Rule = fmt.Sprintf("dispatched by hand by %s (%s) to %s: %s", m.By.ID, m.By.OrgUnitID, m.Lead, m.Note)
	a.CatalogVersion = cat.Version
	err := a.assign(ticket.Dispatch, m.Lead, m.Assisting, c, m.AcceptWithin, m.ResolveWithin, now)
	return []Announcement{{Kind: annDispatched, Actor: m.By, Note: a.Rule, ByHand: true}}, err
}

// RejectTriage cancels a ticket in triage that no department should handle.
func (s *Service) RejectTriage(ctx context.Context, ticketID, reason string, by Actor) (Assignment, error) {
	return s.decide(ctx, "reject", ticketID, func(a *Assignment) ([]Announcement, error) {
		return reject(a, reason, by, s.clock.Now())
	}, by)
}

// reject cancels a ticket in triage.
func reject(a *Assignment, reason string, by Actor, now time.Time) ([]Announcement, error) {
	if a.Arbitration {
		return nil, ErrArbitrationPending
	}
	a.Rule = fmt.Sprintf("rejected by %s (%s): %s", by.ID, by.OrgUnitID, strings.TrimSpace(reason))
	return []Announcement{{Kind: annCancelled, Actor: by, Note: reason}}, a.move(ticket.Cancel, now)
}

// decide applies a person's decision on a ticket waiting in triage, after
// checking that the person acts where it waits.
func (s *Service) decide(ctx context.Context, verb, ticketID string, fn func(a *Assignment) ([]Announcement, error), by Actor) (Assignment, error) {
	ctx, span := s.ticketSpan(ctx, "dispatch."+verb, ticketID)
	defer span.End()
	var out Assignment
	err := s.store.Update(ctx, ticketID, func(a *Assignment) ([]Announcement, error) {
		if a.Status == ticket.StatusUnknown {
			return nil, ErrNotFound
		}
		if a.Status != ticket.Triage {
			return nil, ErrNotInTriage
		}
		if err := a.checkArea(s.catalog(), by); err != nil {
			return nil, err
		}
		anns, err := fn(a)
		out = *a
		return anns, err
	})
	if err != nil {
		return Assignment{}, fmt.Errorf("%s %s: %w", verb, ticketID, err)
	}
	s.log.InfoContext(ctx, "triage decision", "verb", verb, "ticket", ticketID, "by", by.ID, "org_unit", by.OrgUnitID)
	return out, nil
}

// ListTriage returns the tickets waiting for a person at unit or below,
// oldest first, and the id to continue after when there may be more.
func (s *Service) ListTriage(ctx context.Context, unit, after string, limit int) ([]Assignment, string, error) {
	if after != "" && !ids.Valid(after) {
		return nil, "", ErrBadPageToken
	}
	if limit <= 0 {
		limit = 50
	}
	below := s.catalog().Below(unit)
	if len(below) == 0 {
		below = []string{unit}
	}
	as, err := s.store.ListTriage(ctx, below, after, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list triage at %s: %w", unit, err)
	}
	if len(as) <= limit {
		return as, "", nil
	}
	return as[:limit], as[limit-1].TicketID, nil
}
