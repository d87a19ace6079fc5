package dispatch

import (
	"context"
	"fmt"
)

// Explain shows how a ticket was routed (under the catalog version it was
// routed by, at the time it was routed), or how the active catalog routes
// facts when ticketID is empty.
func (s *Service) Explain(ctx context.Context, ticketID string, f Facts) (Route, string, error) {
	if ticketID == "" {
		if f.Category == "" {
			return Route{}, "", ErrNothingToExplain
		}
		cat := s.catalog()
		return cat.Route(f, s.clock.Now()), cat.Version, nil
	}
	a, err := s.store.Get(ctx, ticketID)
	if err != nil {
		return Route{}, "", fmt.Errorf("explain %s: %w", ticketID, err)
	}
	cat, err := s.catalogVersion(ctx, a.CatalogVersion)
	if err != nil {
		return Route{}, "", fmt.Errorf("explain %s: %w", ticketID, err)
	}
	r := cat.Route(a.Facts, a.UpdatedAt)
	if a.Rule != r.Rule {
		r.Steps = append(r.Steps, "then: "+a.Rule)
	}
	return r, cat.Version, nil
}
