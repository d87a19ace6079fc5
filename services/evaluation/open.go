package evaluation

import (
	"context"

	"fmt"
	"github.com/whistle-civic/whistle/pkg/calendar"
	"time"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Resolution is a department's result, which opens a round of evaluation.
type Resolution struct {
	TicketID, Number string
	Version          int64
	DepartmentID     string
	Result           string
	ResolvedAt       time.Time
	Synthetic        bool
	TraceParent      string
}

// Open starts a new round of evaluation for a resolved ticket and announces
// it (evaluation_opened) in the same transaction. A resolution it has seen
// (or one older than what it knows) opens nothing.
func (s *Service) Open(ctx context.Context, r Resolution) (ticket.Decision, error) {
	var decision ticket.Decision
	open := s.openStep(r)
	err := s.store.Update(ctx, r.TicketID, func(e *Evaluation) (ticket.Action, error) {
		decision = open(e)
		return "", nil
	})
	if err != nil {
		return 0, fmt.Errorf("open evaluation of %s: %w", r.TicketID, err)
	}
	return decision, nil
}

// openStep is what a resolution does to its ticket's latest round, given
// locked: a new round opens unless the resolution is one seen before (or
// older than what is known).
func (s *Service) openStep(r Resolution) func(e *Evaluation) ticket.Decision {
	now := s.clock.Now()
	if now.Before(r.ResolvedAt) { // never announced before the resolution, whatever the clocks say
		now = r.ResolvedAt
	}
	return func(e *Evaluation) ticket.Decision {
		decision := ticket.Order(ticket.Monotonic, e.Version, r.Version, true)
		if decision != ticket.Apply {
			return decision
		}
		*e = Evaluation{TicketID: r.TicketID, Number: r.Number, Round: e.Round + 1, State: Open, Version: r.Version,
			DepartmentID: r.DepartmentID, Result: r.Result, OpenedAt: r.ResolvedAt, Synthetic: r.Synthetic,
			TraceParent: r.TraceParent, DueAt: s.window.Due(r.ResolvedAt, calendar.Window{Days: s.cfg.WindowDays}),
			announced: now}
		return decision
	}
}

// Reporter records who reported a ticket, so that its community may
// evaluate it.
func (s *Service) Reporter(ctx context.Context, ticketID, orgUnitID string) error {
	if err := s.store.SaveReporter(ctx, ticketID, orgUnitID); err != nil {
		return fmt.Errorf("record reporter of %s: %w", ticketID, err)
	}
	return nil
}

// MergedInto records that a duplicate was merged into its original: the
// duplicate's resident judges the original's result with their own code.
func (s *Service) MergedInto(ctx context.Context, ticketID, originalID string) error {
	if err := s.store.SaveMergedInto(ctx, ticketID, originalID); err != nil {
		return fmt.Errorf("record merge of %s into %s: %w", ticketID, originalID, err)
	}
	return nil
}

// Area records where a dispatched ticket lies (grid up to city), which
// decides the community that may evaluate it.
func (s *Service) Area(ctx context.Context, ticketID string, area []string) error {
	if err := s.store.SaveArea(ctx, ticketID, area); err != nil {
		return fmt.Errorf("record area of %s: %w", ticketID, err)
	}
	return nil
}
