package monitoring

import (
	"context"
	"fmt"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Timeline returns a ticket's state and its events in order.
func (s *Service) Timeline(ctx context.Context, ticketID string) (State, []Entry, error) {
	st, entries, err := s.store.Timeline(ctx, ticketID)
	if err != nil {
		return State{}, nil, fmt.Errorf("timeline of %s: %w", ticketID, err)
	}
	return st, entries, nil
}

// Counts returns how many tickets are in each status now.
func (s *Service) Counts(ctx context.Context, includeSynthetic bool) (map[ticket.Status]int64, error) {
	c, err := s.store.Counts(ctx, includeSynthetic)
	if err != nil {
		return nil, fmt.Errorf("counts: %w", err)
	}
	return c, nil
}
