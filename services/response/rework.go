package response

import (
	"context"
	"fmt"
	"time"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Reopening is an unsatisfied evaluation sending a ticket back.
type Reopening struct {
	TicketID    string
	Version     int64
	Reasons     []string
	Comment     string
	ReworkCount int32
}

// Rework puts a reopened ticket back into the same department's inbox, with
// the evaluation's reasons and the rework count.
func (s *Service) Rework(ctx context.Context, r Reopening) (ticket.Decision, error) {
	return s.updateFollowing(ctx, r.TicketID, s.reworkStep(r))
}

// reworkStep is the step that reopens a ticket in its inbox.
func (s *Service) reworkStep(r Reopening) step {
	return s.followStep(r.Version, func(it *Item) {
		it.Status, it.Paused = ticket.Reopened, false
		it.ReworkCount, it.ReworkReasons, it.ReworkComment = r.ReworkCount, r.Reasons, r.Comment
	})
}

// Finish records that a ticket ended elsewhere (closed, merged, cancelled);
// it leaves the open inbox.
func (s *Service) Finish(ctx context.Context, ticketID string, version int64, action ticket.Action) (ticket.Decision, error) {
	return s.updateFollowing(ctx, ticketID, s.finishStep(version, action))
}

// finishStep is the step that ends a ticket in its inbox.
func (s *Service) finishStep(version int64, action ticket.Action) step {
	follow := s.followStep(version, func(it *Item) { it.Status = ticket.Target(action) })
	return func(it *Item) (ticket.Decision, error) {
		d, err := follow(it)
		if d == ticket.Later {
			return ticket.Stale, err // never reached an inbox: nothing to finish
		}
		return d, err
	}
}

// updateFollowing applies a transition made elsewhere to a ticket in an inbox.
func (s *Service) updateFollowing(ctx context.Context, ticketID string, st step) (ticket.Decision, error) {
	decision, err := s.update(ctx, ticketID, st)
	if err != nil {
		return 0, fmt.Errorf("follow %s: %w", ticketID, err)
	}
	return decision, nil
}

// followStep is the step of a transition made elsewhere, at version: change
// applies it to the item.
func (s *Service) followStep(version int64, change func(it *Item)) step {
	return func(it *Item) (ticket.Decision, error) {
		if it.Status == ticket.StatusUnknown {
			return ticket.Later, nil // its dispatch has not reached us yet
		}
		decision := ticket.Order(ticket.Monotonic, it.Version, version, true)
		if decision == ticket.Apply {
			it.Version = version
			change(it)
			it.touch(s.clock.Now())
		}
		return decision, nil
	}
}

// Supervision is what dispatch announced about a ticket's deadlines and
// supervision; zero fields leave the item as it is.
type Supervision struct {
	TicketID string
	// Level is a new escalation level.
	Level int32
	// Deadlines announced by a reschedule or an extension decision.
	Rescheduled           bool
	AcceptDue, ResolveDue time.Time
	// ExtensionDecided clears the pending request.
	ExtensionDecided bool
}

// Supervise records deadlines and supervision levels dispatch announced.
// These are annotations: they apply whatever the order they arrive in, except
// that a level never goes down.
func (s *Service) Supervise(ctx context.Context, sv Supervision) (ticket.Decision, error) {
	if _, err := s.update(ctx, sv.TicketID, s.superviseStep(sv)); err != nil {
		return 0, fmt.Errorf("supervise %s: %w", sv.TicketID, err)
	}
	return ticket.Apply, nil
}

// superviseStep is the step that records sv.
func (s *Service) superviseStep(sv Supervision) step {
	return func(it *Item) (ticket.Decision, error) {
		if it.Status == ticket.StatusUnknown {
			return ticket.Apply, nil
		}
		it.EscalationLevel = max(it.EscalationLevel, sv.Level)
		// Whether the clock is paused is ours to know (the department pauses and
		// resumes it); dispatch's notes only bring the deadlines it computed.
		if sv.Rescheduled {
			if !sv.AcceptDue.IsZero() {
				it.AcceptDue = sv.AcceptDue
			}
			if !sv.ResolveDue.IsZero() {
				it.ResolveDue = sv.ResolveDue
			}
		}
		if sv.ExtensionDecided {
			it.ExtensionDue = time.Time{}
		}
		it.touch(s.clock.Now())
		return ticket.Apply, nil
	}
}
