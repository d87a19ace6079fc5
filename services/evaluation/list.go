package evaluation

import (
	"context"
	"fmt"
	"time"
)

// OpenFilter selects open rounds.
type OpenFilter struct {
	// ReporterOrgUnitID keeps rounds of tickets reported from this org unit.
	ReporterOrgUnitID string
	// Within keeps rounds of tickets lying in this org unit (or reported
	// from it); "" keeps all.
	Within string
	// After continues after this position.
	After OpenCursor
	Limit int
}

// OpenCursor is a position in the list of open rounds, oldest first.
type OpenCursor struct {
	OpenedAt time.Time
	TicketID string
}

// DefaultPageSize is the page size when a request names none.
const DefaultPageSize = 50

// ListOpen returns open rounds, oldest first, and the cursor to continue from
// when there may be more.
func (s *Service) ListOpen(ctx context.Context, f OpenFilter) ([]Evaluation, *OpenCursor, error) {
	if f.Limit <= 0 {
		f.Limit = DefaultPageSize
	}
	want := f.Limit
	f.Limit++
	es, err := s.store.ListOpen(ctx, f)
	if err != nil {
		return nil, nil, fmt.Errorf("list open evaluations: %w", err)
	}
	if len(es) <= want {
		return es, nil, nil
	}
	es = es[:want]
	last := es[want-1]
	return es, &OpenCursor{OpenedAt: last.OpenedAt, TicketID: last.TicketID}, nil
}

// Get returns a ticket's latest round.
func (s *Service) Get(ctx context.Context, ticketID string) (Evaluation, error) {
	e, err := s.store.Get(ctx, ticketID)
	if err != nil {
		return Evaluation{}, fmt.Errorf("get evaluation of %s: %w", ticketID, err)
	}
	return e, nil
}
