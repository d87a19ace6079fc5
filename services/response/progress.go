package response

import (
	"context"
	"time"
)

// The clock changes a progress note may make; values equal whistle.v1.ClockChange.
const (
	clockPause  = 1
	clockResume = 2
)

// AddProgress records a note or evidence on a ticket the department holds. A
// note may pause the resolve clock while the ticket waits on something outside
// the department (the resident, another authority), or resume it; dispatch
// then moves the deadline by the working time it stood still.
func (s *Service) AddProgress(ctx context.Context, ticketID, note string, attachments []Attachment, clock int32, actor Actor) (Item, error) {
	return s.act(ctx, "add_progress", ticketID, func(it *Item) (*Announcement, error) {
		if err := it.mine(actor); err != nil {
			return nil, err
		}
		switch {
		case clock != 0 && !it.working():
			return nil, ErrNotWorking
		case clock == clockPause && it.Paused, clock == clockResume && !it.Paused:
			return nil, ErrClockState
		case it.Status.Final():
			return nil, ErrNotWorking
		}
		if clock == clockPause || clock == clockResume {
			it.Paused = clock == clockPause
		}
		it.Actor = actor
		it.touch(s.clock.Now())
		return &Announcement{Kind: "progressed", Note: note, Clock: clock, Attachments: attachments}, nil
	})
}

// RequestExtension asks the street for more time (延期) on a ticket being
// handled, before its resolve deadline passes; one request waits at a time.
func (s *Service) RequestExtension(ctx context.Context, ticketID string, due time.Time, reason string, actor Actor) (Item, error) {
	return s.act(ctx, "request_extension", ticketID, func(it *Item) (*Announcement, error) {
		if err := it.mine(actor); err != nil {
			return nil, err
		}
		now := s.clock.Now()
		switch {
		case !it.working():
			return nil, ErrNotWorking
		case it.Paused:
			return nil, ErrPausedNoDeadline
		case !it.ResolveDue.IsZero() && now.After(it.ResolveDue):
			return nil, ErrDeadlinePassed
		case !it.ExtensionDue.IsZero():
			return nil, ErrExtensionPending
		case !due.After(it.ResolveDue):
			return nil, ErrExtensionTooEarly
		}
		it.ExtensionDue, it.Actor = due, actor
		it.touch(now)
		return &Announcement{Kind: "extension_requested", Note: reason, RequestedDue: due}, nil
	})
}
