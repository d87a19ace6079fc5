package monitoring

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"time"
)

// window holds what the hot spot rules read while a batch's reports are
// judged: every recorded report and hot spot of the batch's places (matter
// and district) that any window judged can reach, read with two statements
// for the batch; the rules then run in memory, and what they record is
// written with two more (see flush). The places are locked for the
// transaction first (LockPlaces), so nothing else changes them meanwhile.
type window struct {
	// reports by place, oldest first (reported_at, then ticket id, as the
	// database orders them).
	reports map[string][]Report
	known   map[string]bool // ticket ids recorded
	spots   map[string][]HotSpot
	spotIDs map[string]bool
	// added are the reports and hot spots to write.
	added  []Report
	raised []raisedSpot
}

type raisedSpot struct {
	HotSpot
	announce bool
}

// windowStore reads and writes a window's places.
type windowStore interface {
	// WindowReports returns the recorded reports of each place (matter and
	// district) made within its bounds, inclusive.
	WindowReports(ctx context.Context, bounds []placeBounds) ([]Report, error)
	// WindowHotSpots returns the hot spots of each place's matter whose area
	// holds its district, found since its bounds' From.
	WindowHotSpots(ctx context.Context, bounds []placeBounds) ([]HotSpot, error)
	// RecordReports and SaveHotSpots write with one statement each, in the
	// transaction ctx carries, leaving what exists (by ticket, by id) as it
	// is; SaveHotSpots announces those it wrote that ask for it.
	RecordReports(ctx context.Context, rs []Report) error
	SaveHotSpots(ctx context.Context, hs []HotSpot, announce []bool) error
}

// placeBounds is what a window reads of one place.
type placeBounds struct {
	Category, District string
	From, To           time.Time
}

// placeOf is a report's place key, as hotSpotPlace names it.
func placeOf(category, district string) string { return category + "|" + district }

// openWindow reads what judging reports needs: for each place, the reports
// from two windows before the earliest (the rising rule's window before)
// to one window after the latest (the later reports judged again), and the
// hot spots found since one window before the earliest.
func (s *Service) openWindow(ctx context.Context, rs []Report) (*window, error) {
	w := s.cfg.HotSpots.Window
	byPlace := map[string]*placeBounds{}
	for _, r := range rs {
		k := placeOf(r.Category, r.District)
		b, ok := byPlace[k]
		if !ok {
			b = &placeBounds{Category: r.Category, District: r.District, From: r.At, To: r.At}
			byPlace[k] = b
		}
		b.From, b.To = minTime(b.From, r.At), maxTime(b.To, r.At)
	}
	reportBounds, spotBounds := make([]placeBounds, 0, len(byPlace)), make([]placeBounds, 0, len(byPlace))
	for _, b := range byPlace {
		reportBounds = append(reportBounds, placeBounds{b.Category, b.District, b.From.Add(-2 * w), b.To.Add(w)})
		spotBounds = append(spotBounds, placeBounds{b.Category, b.District, b.From.Add(-w), time.Time{}})
	}
	reports, err := s.hot.WindowReports(ctx, reportBounds)
	if err != nil {
		return nil, fmt.Errorf("read the reports of %d places: %w", len(byPlace), err)
	}
	spots, err := s.hot.WindowHotSpots(ctx, spotBounds)
	if err != nil {
		return nil, fmt.Errorf("read the hot spots of %d places: %w", len(byPlace), err)
	}
	win := &window{reports: map[string][]Report{}, known: map[string]bool{}, spots: map[string][]HotSpot{}, spotIDs: map[string]bool{}}
	for _, r := range reports {
		win.insert(r)
	}
	for _, h := range spots {
		win.addSpot(h)
	}
	return win, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// byTime orders reports as the database does: by time, then ticket id.
func byTime(a, b Report) int {
	return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.TicketID, b.TicketID))
}

func (w *window) insert(r Report) {
	k := placeOf(r.Category, r.District)
	list := w.reports[k]
	i, _ := slices.BinarySearchFunc(list, r, byTime)
	w.reports[k], w.known[r.TicketID] = slices.Insert(list, i, r), true
}

// addSpot files a hot spot under its matter and each unit of its area (every
// unit at or under a district lies in that district).
func (w *window) addSpot(h HotSpot) {
	for _, unit := range h.Area {
		k := placeOf(h.Category, unit)
		w.spots[k] = append(w.spots[k], h)
	}
	w.spotIDs[h.ID] = true
}

// RecordReport keeps a report for the rules' windows (once per ticket).
func (w *window) RecordReport(r Report) {
	if w.known[r.TicketID] {
		return
	}
	w.insert(r)
	w.added = append(w.added, r)
}

// between returns the reports of r's matter and district made in (since,
// until], or in [since, until] when from is inclusive, oldest first: a part
// of the sorted list, found by binary search.
func (w *window) between(r Report, since, until time.Time, inclusive bool) []Report {
	list := w.reports[placeOf(r.Category, r.District)]
	i := sort.Search(len(list), func(i int) bool {
		if inclusive {
			return !list[i].At.Before(since)
		}
		return list[i].At.After(since)
	})
	j := i + sort.Search(len(list)-i, func(k int) bool { return list[i+k].At.After(until) })
	return list[i:j]
}

// ReportsAfter returns the reports of r's matter and district made from r's
// time up to until, r itself left out, oldest first; only those whose place
// is fully known (a grid's five units).
func (w *window) ReportsAfter(r Report, until time.Time) []Report {
	var out []Report
	for _, l := range w.between(r, r.At, until, true) {
		if l.TicketID != r.TicketID && len(l.Area) == 5 {
			out = append(out, l)
		}
	}
	return out
}

// Recent returns the tickets of a matter reported in a grid, community or
// district (field) of the district in (since, until], oldest first.
func (w *window) Recent(field, place string, r Report, since, until time.Time) []string {
	var out []string
	for _, l := range w.between(r, since, until, false) {
		at := l.District
		switch field {
		case "grid":
			at = l.Grid
		case "community":
			at = l.Community
		}
		if at == place {
			out = append(out, l.TicketID)
		}
	}
	return out
}

// Covered returns the tickets of a matter that belong to a hot spot whose
// area holds unit, found since a time.
func (w *window) Covered(category, unit string, since time.Time) map[string]bool {
	out := map[string]bool{}
	for _, h := range w.spots[placeOf(category, unit)] {
		if !h.DetectedAt.Before(since) {
			for _, id := range h.TicketIDs {
				out[id] = true
			}
		}
	}
	return out
}

// HotSpotSince reports whether a rule fired for a place and matter since a time.
func (w *window) HotSpotSince(rule, place, category string, since time.Time) bool {
	return slices.ContainsFunc(w.spots[placeOf(category, place)], func(h HotSpot) bool {
		return h.Rule == rule && h.Place == place && !h.DetectedAt.Before(since)
	})
}

// SaveHotSpot records a hot spot (once per id), to be announced when asked.
func (w *window) SaveHotSpot(h HotSpot, announce bool) {
	if w.spotIDs[h.ID] {
		return
	}
	w.addSpot(h)
	w.raised = append(w.raised, raisedSpot{h, announce})
}

// flush writes what the rules recorded, in the transaction ctx carries.
func (s *Service) flush(ctx context.Context, w *window) error {
	if err := s.hot.RecordReports(ctx, w.added); err != nil {
		return fmt.Errorf("record %d reports: %w", len(w.added), err)
	}
	if len(w.raised) == 0 {
		return nil
	}
	hs, announce := make([]HotSpot, len(w.raised)), make([]bool, len(w.raised))
	for i, r := range w.raised {
		hs[i], announce[i] = r.HotSpot, r.announce
	}
	if err := s.hot.SaveHotSpots(ctx, hs, announce); err != nil {
		return fmt.Errorf("save %d hot spots: %w", len(hs), err)
	}
	return nil
}
