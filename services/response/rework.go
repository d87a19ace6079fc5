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
	return s.follow(ctx, r.TicketID, r.Version, func(it *Item) {
		it.Status, it.Paused = ticket.Reopened, false
		it.ReworkCount, it.ReworkReasons, it.ReworkComment = r.ReworkCount, r.Reasons, r.Comment
	})
}

// Finish records that a ticket ended elsewhere (closed, merged, cancelled);
// it leaves the open inbox.
func (s *Service) Finish(ctx context.Context, ticketID string, version int64, action ticket.Action) (ticket.Decision, error) {
	d, err := s.follow(ctx, ticketID, version, func(it *Item) { it.Status = ticket.Target(action) })
	if d == ticket.Later {
		return ticket.Stale, err // never reached an inbox: nothing to finish
	}
	return d, err
}

// follow applies a transition made elsewhere to a ticket in an inbox.
func (s *Service) follow(ctx context.Context, ticketID string, version int64, change func(it *Item)) (ticket.Decision, error) {
	var decision ticket.Decision
	err := s.store.Update(ctx, ticketID, func(it *Item) (*Announcement, error) {
		if it.Status == ticket.StatusUnknown {
			decision = ticket.Later // its dispatch has not reached us yet
			return nil, nil
		}
		decision = ticket.Order(ticket.Monotonic, it.Version, version, true)
		if decision == ticket.Apply {
			it.Version = version
			change(it)
			it.touch(s.clock.Now())
		}
		return nil, nil
	})
	if err != nil {
		return 0, fmt.Errorf("follow %s: %w", ticketID, err)
	}
	return decision, nil
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
	err := s.store.Update(ctx, sv.TicketID, func(it *Item) (*Announcement, error) {
		if it.Status == ticket.StatusUnknown {
			return nil, nil
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
		return nil, nil
	})
	if err != nil {
		return 0, fmt.Errorf("supervise %s: %w", sv.TicketID, err)
	}
	return ticket.Apply, nil
}
