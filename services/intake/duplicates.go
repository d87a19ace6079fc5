package intake

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/whistle-civic/whistle/pkg/geo"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Candidate is an open ticket that likely reports the same matter.
type Candidate struct {
	TicketID, Number string
	Status           ticket.Status
	ReportedAt       time.Time
	// Distance is in metres when both tickets have coordinates; SameGrid is
	// set when the candidate was found by grid instead.
	Distance float64
	SameGrid bool
	// Place is the org unit it lies in: its grid, else its reporting unit
	// (who may see it is decided by it).
	Place string
}

// Likeness is what makes two reports likely the same matter: the same
// matter type, reported within Window of each other, within Radius metres
// (where both have coordinates) or in the same grid (where one has none).
//
// A report alike in matter and place to a ticket closed within RepeatWindow
// repeats it: that ticket's resolution did not stay resolved.
type Likeness struct {
	// Radius in metres. Default 250.
	Radius float64
	// Window back from the report. Default 14 days.
	Window time.Duration
	// RepeatWindow is how long after a ticket's close a report alike
	// repeats it. Default 30 days.
	RepeatWindow time.Duration
}

// withDefaults fills in the zero fields.
func (l Likeness) withDefaults() Likeness {
	if l.Radius <= 0 {
		l.Radius = 250
	}
	if l.Window <= 0 {
		l.Window = 14 * 24 * time.Hour
	}
	if l.RepeatWindow <= 0 {
		l.RepeatWindow = 30 * 24 * time.Hour
	}
	return l
}

// NearbyQuery asks storage for open tickets near a place.
type NearbyQuery struct {
	Category  string
	Synthetic bool
	// Since is the earliest report time wanted; Except a ticket to leave out.
	Since  time.Time
	Except string
	// ClosedSince, when set, asks for the tickets closed since then and
	// repeated by no report yet, as well.
	ClosedSince time.Time
	// Cover lists the cell ranges around the point (none without coordinates);
	// GridID the grid to look in (empty: none).
	Cover  []geo.Range
	GridID string
	Limit  int
}

// near is an open ticket storage found, with its place.
type near struct {
	Candidate
	Location Location
}

// duplicates finds the open tickets that likely report the same matter as t
// (a ticket, or a report about to be one: no id yet) and that sees keeps
// (nil: all), nearest first, up to limit.
func (s *Service) duplicates(ctx context.Context, t Ticket, sees func(Candidate) bool, limit int) ([]Candidate, error) {
	dups, _, err := s.alike(ctx, t, sees, limit, false)
	return dups, err
}

// alike is duplicates and, when repeats is set, the tickets t repeats:
// those closed within the repeat window, alike in matter and place, and
// repeated by no report yet (whoever may see them), found by the same
// statement.
func (s *Service) alike(ctx context.Context, t Ticket, sees func(Candidate) bool, limit int, repeats bool) ([]Candidate, []string, error) {
	l, loc, category := s.likeness, t.Location, t.Category
	q := NearbyQuery{Category: category, Synthetic: t.Synthetic, Since: t.ReportedAt.Add(-l.Window), Except: t.ID,
		GridID: loc.GridID, Limit: 4 * limit}
	if repeats {
		q.ClosedSince = t.ReportedAt.Add(-l.RepeatWindow)
	}
	p := geo.Point{Lat: loc.Latitude, Lng: loc.Longitude}
	if loc.HasCoordinates {
		q.Cover = geo.Cover(p, l.Radius)
	}
	if len(q.Cover) == 0 && q.GridID == "" {
		return nil, nil, nil
	}
	found, err := s.store.Nearby(ctx, q)
	if err != nil {
		return nil, nil, fmt.Errorf("duplicates of a %s report: %w", category, err)
	}
	var out []Candidate
	var repeated []string
	for _, n := range found {
		c := n.Candidate
		switch {
		case loc.HasCoordinates && n.Location.HasCoordinates:
			c.Distance = geo.Distance(p, geo.Point{Lat: n.Location.Latitude, Lng: n.Location.Longitude})
			if c.Distance > l.Radius {
				continue
			}
		case loc.GridID != "" && n.Location.GridID == loc.GridID:
			c.SameGrid = true
		default:
			continue
		}
		switch {
		case c.Status == ticket.Closed:
			repeated = append(repeated, c.TicketID)
		case sees == nil || sees(c):
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b Candidate) int { return compareNear(a, b) })
	slices.Sort(repeated)
	return out[:min(len(out), limit)], repeated, nil
}

// compareNear orders candidates: those measured by distance first, nearest
// first, then those found by grid, newest first.
func compareNear(a, b Candidate) int {
	switch {
	case a.SameGrid != b.SameGrid:
		if a.SameGrid {
			return 1
		}
		return -1
	case !a.SameGrid && a.Distance != b.Distance:
		if a.Distance < b.Distance {
			return -1
		}
		return 1
	}
	return b.ReportedAt.Compare(a.ReportedAt)
}

// maxListed is how many likely duplicates FindDuplicates lists.
const maxListed = 20

// FindDuplicates lists the open tickets that likely report the same matter
// as t and that sees keeps (nil: all), nearest first.
func (s *Service) FindDuplicates(ctx context.Context, t Ticket, sees func(Candidate) bool) ([]Candidate, error) {
	return s.duplicates(ctx, t, sees, maxListed)
}
