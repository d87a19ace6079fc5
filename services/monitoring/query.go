package monitoring

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// figureReader is what the queries need of storage.
type figureReader interface {
	Facts(ctx context.Context, unit, from, to string) (map[string]int64, map[string]*stageBuckets, int64, int64, error)
	UnitFacts(ctx context.Context, kind, within, from, to string) (map[string]map[string]int64, error)
	Overdue(ctx context.Context, unit string, after overdueCursor, limit int) ([]State, error)
	Board(ctx context.Context, unit string) ([]BoardRow, error)
	CategoryCounts(ctx context.Context, unit, from, to string) (map[string]int64, error)
	OverdueByStage(ctx context.Context) (map[string]int64, error)
	Unit(ctx context.Context, id string) (Unit, error)
}

// Timeline returns a ticket's state and its events in order.
func (s *Service) Timeline(ctx context.Context, ticketID string) (State, []Entry, error) {
	st, entries, err := s.store.Timeline(ctx, ticketID)
	if err != nil {
		return State{}, nil, fmt.Errorf("timeline of %s: %w", ticketID, err)
	}
	return st, entries, nil
}

// Duplicates returns the tickets merged into a ticket, oldest first.
func (s *Service) Duplicates(ctx context.Context, ticketID string) ([]Duplicate, error) {
	ds, err := s.store.Duplicates(ctx, ticketID)
	if err != nil {
		return nil, fmt.Errorf("duplicates of %s: %w", ticketID, err)
	}
	return ds, nil
}

// Counts returns how many tickets are in each status now.
func (s *Service) Counts(ctx context.Context, includeSynthetic bool) (map[ticket.Status]int64, error) {
	c, err := s.store.Counts(ctx, includeSynthetic)
	if err != nil {
		return nil, fmt.Errorf("counts: %w", err)
	}
	return c, nil
}

// Scorecard returns a unit's figures for a period. Its cost depends on the
// days of the period, not on how many tickets there are.
func (s *Service) Scorecard(ctx context.Context, unit string, p Period) (Scorecard, error) {
	from, to, err := p.Days()
	if err != nil {
		return Scorecard{}, err
	}
	if _, err := s.figs.Unit(ctx, unit); err != nil {
		return Scorecard{}, fmt.Errorf("scorecard of %s: %w", unit, err)
	}
	facts, stages, open, overdue, err := s.figs.Facts(ctx, unit, from, to)
	if err != nil {
		return Scorecard{}, fmt.Errorf("scorecard of %s: %w", unit, err)
	}
	figs := figures(facts)
	return Scorecard{Unit: unit, From: from, To: to, Figures: figs, Stages: stageTimes(stages), Open: open, Overdue: overdue,
		SatisfactionGap: s.cfg.SatisfactionGap.Flags(figs)}, nil
}

// Ranked is one unit's place in a ranking.
type Ranked struct {
	Rank   int
	Unit   string
	Figure Figure
}

// lowerIsBetter names the figures a unit wants low.
var lowerIsBetter = map[string]bool{FigureReworkRate: true, FigureDefaultCloseRate: true, FigureRepeated: true}

// Rankings ranks the units of a kind (district, street, community,
// department) by a figure over a period, best first (highest rate, lowest
// for rework and default closes); ties share a rank and units with nothing
// to count come last.
func (s *Service) Rankings(ctx context.Context, kind, name, within string, p Period) ([]Ranked, error) {
	from, to, err := p.Days()
	if err != nil {
		return nil, err
	}
	if _, err := figure(name, nil); err != nil {
		return nil, err
	}
	if within != "" {
		if kind == "department" {
			return nil, ErrWithinDepartments
		}
		if _, err := s.figs.Unit(ctx, within); err != nil {
			return nil, fmt.Errorf("rankings within %s: %w", within, err)
		}
	}
	all, err := s.figs.UnitFacts(ctx, kind, within, from, to)
	if err != nil {
		return nil, fmt.Errorf("rankings: %w", err)
	}
	out := make([]Ranked, 0, len(all))
	for unit, f := range all {
		fig, _ := figure(name, f)
		out = append(out, Ranked{Unit: unit, Figure: fig})
	}
	lower := lowerIsBetter[name]
	better := func(a, b Figure) bool {
		if (a.Denominator == 0) != (b.Denominator == 0) {
			return b.Denominator == 0
		}
		if lower {
			return a.Rate() < b.Rate()
		}
		return a.Rate() > b.Rate()
	}
	sort.SliceStable(out, func(i, j int) bool {
		if better(out[i].Figure, out[j].Figure) || better(out[j].Figure, out[i].Figure) {
			return better(out[i].Figure, out[j].Figure)
		}
		return out[i].Unit < out[j].Unit
	})
	for i := range out {
		out[i].Rank = i + 1
		if i > 0 && !better(out[i-1].Figure, out[i].Figure) {
			out[i].Rank = out[i-1].Rank
		}
	}
	return out, nil
}

// Overdue returns a page of open tickets past a deadline, most escalated first.
func (s *Service) Overdue(ctx context.Context, unit string, after overdueCursor, limit int) ([]State, *overdueCursor, error) {
	if limit <= 0 {
		limit = 50
	}
	sts, err := s.figs.Overdue(ctx, unit, after, limit+1)
	if err != nil {
		return nil, nil, fmt.Errorf("overdue of %s: %w", unit, err)
	}
	if len(sts) <= limit {
		return sts, nil, nil
	}
	last := sts[limit-1]
	return sts[:limit], &overdueCursor{TicketID: last.TicketID, Level: last.EscalationLevel, Due: last.StageDue}, nil
}

// Board counts open escalated tickets by level, per department and street.
func (s *Service) Board(ctx context.Context, unit string) ([]BoardRow, error) {
	rows, err := s.figs.Board(ctx, unit)
	if err != nil {
		return nil, fmt.Errorf("escalation board of %s: %w", unit, err)
	}
	return rows, nil
}

// HotSpots lists the hot spots in an area, newest first.
func (s *Service) HotSpots(ctx context.Context, unit string, limit int) ([]HotSpot, error) {
	if limit <= 0 {
		limit = 50
	}
	hs, err := s.hot.HotSpots(ctx, unit, limit)
	if err != nil {
		return nil, fmt.Errorf("hot spots of %s: %w", unit, err)
	}
	return hs, nil
}

// Problem is a frequent matter in a district's month.
type Problem struct {
	Category        string
	Count, Previous int64
	Share           float64
}

// TopProblems are a district's 每月一题 candidates of a month: its most
// reported matters, and the scan's clusters, strongest first.
type TopProblems struct {
	Problems []Problem
	Clusters []HotSpot
}

// TopProblems returns a district's most reported matters in a month
// (YYYY-MM), with the month before, and the scan's clusters found or
// updated in the month (in the city's zone), strongest first: up to limit
// of each (default 5).
func (s *Service) TopProblems(ctx context.Context, district, month string, limit int) (TopProblems, error) {
	start, err := time.ParseInLocation("2006-01", month, s.loc)
	if err != nil {
		return TopProblems{}, ErrBadPeriod
	}
	if limit <= 0 {
		limit = 5
	}
	ps, err := s.topMatters(ctx, district, start, limit)
	if err != nil {
		return TopProblems{}, err
	}
	cs, err := s.hot.StrongestClusters(ctx, district, start, start.AddDate(0, 1, 0), limit)
	if err != nil {
		return TopProblems{}, fmt.Errorf("clusters of %s: %w", district, err)
	}
	return TopProblems{Problems: ps, Clusters: cs}, nil
}

// topMatters ranks a district's matters of the month starting at start.
func (s *Service) topMatters(ctx context.Context, district string, start time.Time, limit int) ([]Problem, error) {
	u, err := s.figs.Unit(ctx, district)
	if err != nil {
		return nil, fmt.Errorf("top problems of %s: %w", district, err)
	}
	if u.Kind != "district" {
		return nil, fmt.Errorf("%s is a %s: %w", district, u.Kind, ErrNotADistrict)
	}
	span := func(t time.Time) (string, string) {
		return t.Format(time.DateOnly), t.AddDate(0, 1, -1).Format(time.DateOnly)
	}
	from, to := span(start)
	cur, err := s.figs.CategoryCounts(ctx, district, from, to)
	if err != nil {
		return nil, fmt.Errorf("top problems of %s: %w", district, err)
	}
	pfrom, pto := span(start.AddDate(0, -1, 0))
	prev, err := s.figs.CategoryCounts(ctx, district, pfrom, pto)
	if err != nil {
		return nil, fmt.Errorf("top problems of %s: %w", district, err)
	}
	var total int64
	out := make([]Problem, 0, len(cur))
	for c, n := range cur {
		total += n
		out = append(out, Problem{Category: c, Count: n, Previous: prev[c]})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Category < out[j].Category
	})
	for i := range out {
		out[i].Share = float64(out[i].Count) / float64(total)
	}
	return out[:min(limit, len(out))], nil
}
