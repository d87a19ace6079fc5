package dispatch

import (
	"context"
	"fmt"
	"time"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Transition is a move another service made on a ticket dispatch routed.
type Transition struct {
	TicketID   string
	Version    int64
	Action     ticket.Action
	Department string
	// Note explains a return.
	Note string
	// Escalate is set on a rework past the evaluation's rework limit.
	Escalate bool
}

// Follow records a transition made elsewhere and does what it calls for:
// an acceptance makes the accepting department the owner; a rework restarts
// the resolve window; a return re-routes the ticket to the matter's
// alternative department or sends it to arbitration.
func (s *Service) Follow(ctx context.Context, tr Transition) (ticket.Decision, error) {
	decision, err := s.update(ctx, tr.TicketID, s.followStep(tr))
	if err != nil {
		return 0, fmt.Errorf("follow %s of %s: %w", tr.Action, tr.TicketID, err)
	}
	return decision, nil
}

// followStep is the step that records tr.
func (s *Service) followStep(tr Transition) step {
	return func(a *Assignment) (ticket.Decision, []Announcement, error) {
		if a.Status == ticket.StatusUnknown {
			return ticket.Later, nil, nil // its reported event is still on its way
		}
		decision := ticket.Order(ticket.Monotonic, a.Version, tr.Version, true)
		if decision != ticket.Apply {
			return decision, nil, nil
		}
		anns, err := s.follow(a, tr, s.clock.Now())
		return decision, anns, err
	}
}

// follow applies a transition made elsewhere to a, by the event's word and
// not by our view (transitions arrive on separate consumers and may overtake
// each other), and returns what dispatch must announce in turn.
func (s *Service) follow(a *Assignment, tr Transition, now time.Time) ([]Announcement, error) {
	a.follow(tr.Action, tr.Version, now)
	switch tr.Action {
	case ticket.Accept:
		a.Owner, a.NextCheck = tr.Department, a.ResolveDue
		if !a.PausedAt.IsZero() {
			a.NextCheck = time.Time{}
		}
	case ticket.Reopen:
		c := a.clock(s.catalog().Calendar)
		a.ResolveDue, a.PausedAt = c.Due(now, a.ResolveWithin), time.Time{}
		a.NextCheck = a.ResolveDue
		anns := []Announcement{{Kind: annRescheduled, Note: "rework: a new resolve window of " + a.ResolveWithin.String()}}
		if tr.Escalate && a.EscalationLevel < MaxEscalationLevel {
			a.EscalationLevel++
			anns = append(anns, Announcement{Kind: annEscalated, Level: a.EscalationLevel, Stage: "rework",
				Notified: s.catalog().supervisor(a.Facts.GridID, a.EscalationLevel), DueAt: now,
				Note: "unsatisfied again past the rework limit"})
		}
		return anns, nil
	case ticket.Return:
		return s.afterReturn(a, tr, now)
	default: // resolved, closed, merged, cancelled: no deadline runs
		a.NextCheck, a.PausedAt, a.ExtensionDue, a.ExtensionReason = time.Time{}, time.Time{}, time.Time{}, ""
	}
	return nil, nil
}

// afterReturn re-routes a returned ticket to an alternative department, or,
// when there is none or it was returned too often, sends it to arbitration.
func (s *Service) afterReturn(a *Assignment, tr Transition, now time.Time) ([]Announcement, error) {
	a.ReturnCount++
	a.Returners = append(a.Returners, tr.Department)
	a.Lead, a.NextCheck = "", time.Time{}
	cat := s.catalog()
	if a.ReturnCount <= s.maxReturns {
		if alt, ok := cat.alternative(a.Facts.Category, a.Facts.GridID, a.Returners); ok {
			a.Rule = fmt.Sprintf("returned by %s (%s); re-routed to %s, the catalog's alternative for %s",
				tr.Department, tr.Note, alt.ID, a.Facts.Category)
			err := a.assign(ticket.Dispatch, alt.ID, nil, a.clock(cat.Calendar), a.AcceptWithin, a.ResolveWithin, now)
			return []Announcement{{Kind: annDispatched, Note: a.Rule}}, err
		}
	}
	at := cat.arbiter(a.Facts.GridID, tr.Department)
	why := fmt.Sprintf("returned by %s (%s); no alternative department: arbitration at %s", tr.Department, tr.Note, at)
	if a.ReturnCount > s.maxReturns {
		why = fmt.Sprintf("returned %d times (last by %s: %s): arbitration at %s", a.ReturnCount, tr.Department, tr.Note, at)
	}
	return []Announcement{{Kind: annTriaged, Note: why}}, a.waitForPerson(at, true, why, now)
}

// Progress is a department's note that pauses or resumes the resolve clock.
type Progress struct {
	TicketID string
	// Version is the ticket version the progress happened at.
	Version int64
	Pause   bool
	Resume  bool
	Note    string
}

// FollowProgress stops or restarts the resolve clock. While it stands still
// the ticket cannot go overdue; when it runs again the deadline moves by the
// working time it stood still.
func (s *Service) FollowProgress(ctx context.Context, p Progress) (ticket.Decision, error) {
	decision, err := s.update(ctx, p.TicketID, s.progressStep(p))
	if err != nil {
		return 0, fmt.Errorf("follow progress of %s: %w", p.TicketID, err)
	}
	return decision, nil
}

// progressStep is the step that stops or restarts the resolve clock for p.
func (s *Service) progressStep(p Progress) step {
	return func(a *Assignment) (ticket.Decision, []Announcement, error) {
		decision := annotationOrder(a, p.Version)
		if decision != ticket.Apply || (a.Status != ticket.Accepted && a.Status != ticket.Reopened) {
			return decision, nil, nil
		}
		now := s.clock.Now()
		c := a.clock(s.catalog().Calendar)
		switch {
		case p.Pause && a.PausedAt.IsZero():
			a.PausedAt, a.NextCheck = now, time.Time{}
			a.touch(now)
			return decision, []Announcement{{Kind: annRescheduled, Note: "clock paused: " + p.Note}}, nil
		case p.Resume && !a.PausedAt.IsZero():
			left := c.Left(a.PausedAt, a.ResolveDue)
			a.ResolveDue, a.PausedAt = c.After(now, left), time.Time{}
			a.touch(now)
			a.NextCheck = a.ResolveDue
			return decision, []Announcement{{Kind: annRescheduled, Note: fmt.Sprintf("clock resumed with %s left: %s", left, p.Note)}}, nil
		}
		return decision, nil, nil
	}
}

// annotationOrder decides an annotation made at version v: dispatch follows
// every transition, so one naming a version it does not know yet overtook
// the transition before it (an extension asked for just after the
// acceptance, on another consumer) and waits for it.
func annotationOrder(a *Assignment, v int64) ticket.Decision {
	if a.Status == ticket.StatusUnknown {
		return ticket.Later
	}
	return ticket.Order(ticket.Contiguous, a.Version, v, false)
}

// FollowExtensionRequest records a department's request for more time, for
// the street to decide.
func (s *Service) FollowExtensionRequest(ctx context.Context, ticketID string, version int64, due time.Time, reason string) (ticket.Decision, error) {
	decision, err := s.update(ctx, ticketID, s.extensionRequestStep(version, due, reason))
	if err != nil {
		return 0, fmt.Errorf("follow extension request of %s: %w", ticketID, err)
	}
	return decision, nil
}

// extensionRequestStep is the step that records a request for more time.
func (s *Service) extensionRequestStep(version int64, due time.Time, reason string) step {
	return func(a *Assignment) (ticket.Decision, []Announcement, error) {
		decision := annotationOrder(a, version)
		if decision != ticket.Apply || (a.Status != ticket.Accepted && a.Status != ticket.Reopened) {
			return decision, nil, nil
		}
		a.ExtensionDue, a.ExtensionReason = due, reason
		a.touch(s.clock.Now())
		return decision, nil, nil
	}
}
