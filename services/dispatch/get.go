package dispatch

import (
	"context"
	"fmt"
)

// GetAssignment returns dispatch's record of a ticket.
func (s *Service) GetAssignment(ctx context.Context, ticketID string) (Assignment, error) {
	a, err := s.store.Get(ctx, ticketID)
	if err != nil {
		return Assignment{}, fmt.Errorf("get assignment %s: %w", ticketID, err)
	}
	return a, nil
}

// Catalog returns the active catalog.
func (s *Service) Catalog() *Catalog { return s.catalog() }
