package intake

import (
	"context"
	"fmt"
	"time"

	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// ListFilter selects tickets; zero fields select everything.
type ListFilter struct {
	ReporterOrgUnitID string
	Category          string
	Source            Source
	ReportedAfter     time.Time
	ReportedBefore    time.Time
	IncludeSynthetic  bool
	// Statuses keeps tickets in one of these statuses; nil keeps all.
	Statuses []ticket.Status
	// Within keeps tickets whose grid or reporting unit is one of these;
	// nil keeps all.
	Within []string
	// After continues after this ticket id (ids sort by creation time).
	After string
	// Limit is the page size.
	Limit int
}

// DefaultPageSize is the page size when a request names none.
const DefaultPageSize = 50

// ticketLister is what ListTickets needs from storage.
type ticketLister interface {
	List(ctx context.Context, f ListFilter) ([]Ticket, error)
}

// ListTickets returns tickets newest first, and the id to continue after when
// there may be more.
func (s *Service) ListTickets(ctx context.Context, f ListFilter) ([]Ticket, string, error) {
	if f.After != "" && !ids.Valid(f.After) {
		return nil, "", fmt.Errorf("list tickets: %w", ErrBadPageToken)
	}
	if f.Limit <= 0 {
		f.Limit = DefaultPageSize
	}
	want := f.Limit
	f.Limit++ // one more tells whether a next page exists
	ts, err := s.store.List(ctx, f)
	if err != nil {
		return nil, "", fmt.Errorf("list tickets: %w", err)
	}
	if len(ts) <= want {
		return ts, "", nil
	}
	ts = ts[:want]
	return ts, ts[want-1].ID, nil
}
