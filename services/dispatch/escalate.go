package dispatch

import (
	"context"
	"fmt"
	"time"

	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// MaxEscalationLevel is the city: supervision goes no higher.
const MaxEscalationLevel = 3

// escalate raises the supervision level for every deadline missed by now:
// at the deadline the street supervises (level 1), after another full window
// the district (2), after another the city (3). Each step is announced.
func (a *Assignment) escalate(cat *Catalog, now time.Time) []Announcement {
	var anns []Announcement
	for !a.NextCheck.IsZero() && !a.NextCheck.After(now) {
		stage, due, window := "resolve", a.ResolveDue, a.ResolveWithin
		switch {
		case a.Status == ticket.Dispatched:
			stage, due, window = "accept", a.AcceptDue, a.AcceptWithin
		case (a.Status == ticket.Accepted || a.Status == ticket.Reopened) && a.PausedAt.IsZero():
		default:
			a.NextCheck = time.Time{}
			a.touch(now)
			return anns
		}
		if a.EscalationLevel >= MaxEscalationLevel {
			a.NextCheck = time.Time{}
			a.touch(now)
			return anns
		}
		a.EscalationLevel++
		notified := cat.supervisor(a.Facts.GridID, a.EscalationLevel)
		anns = append(anns, Announcement{Kind: annEscalated, Level: a.EscalationLevel, Stage: stage, Notified: notified,
			DueAt: due, Note: fmt.Sprintf("%s deadline %s missed", stage, due.Format(time.RFC3339))})
		a.NextCheck = a.clock(cat.Calendar).Due(a.NextCheck, window)
		a.touch(now)
	}
	return anns
}

// FireDue escalates every ticket whose next check is due, in batches, and
// returns how many tickets it looked at. Each ticket is locked while it is
// handled and its next check moves in the same transaction as the escalated
// event, so with any number of replicas no step fires twice and none is
// lost (the checks live in PostgreSQL, not in memory).
func (s *Service) FireDue(ctx context.Context) (int, error) {
	total := 0
	for {
		now := s.clock.Now()
		n, err := s.store.EachDue(ctx, now, 100, func(a *Assignment) ([]Announcement, error) {
			return a.escalate(s.catalog(), now), nil
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("fire due deadlines: %w", err)
		}
		if n < 100 {
			return total, nil
		}
	}
}

// runScheduler fires due deadlines every interval until ctx ends.
func (s *Service) runScheduler(ctx context.Context, every time.Duration) error {
	platform.Every(ctx, every, func(ctx context.Context) {
		if _, err := s.FireDue(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "deadline scheduler failed; retrying", "err", err)
		}
	})
	return nil
}
