package monitoring

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// HotSpotConfig sets when a recurring problem is worth a ticket before anyone
// complains (未诉先办). A rule fires at most once per place and matter within
// a window.
type HotSpotConfig struct {
	// Window is the sliding window. Default 7 days.
	Window time.Duration
	// GridRepeats reports of one matter in one grid within the window fire
	// the "repeat_grid" rule. Default 3.
	GridRepeats int
	// CommunityRepeats reports of one matter in the grids of one community
	// within the window fire the "repeat_community" rule. Default 5.
	CommunityRepeats int
	// RisingMin and RisingFactor fire the "rising" rule for a district: at
	// least RisingMin reports of a matter in the window that no hot spot
	// holds yet, and RisingFactor times as many as in the window before.
	// Defaults 8 and 2.
	RisingMin    int64
	RisingFactor int64
	// Scan tunes the space-time scan (defaults in ScanConfig).
	Scan ScanConfig
}

func (c *HotSpotConfig) defaults() {
	if c.Window == 0 {
		c.Window = 7 * 24 * time.Hour
	}
	if c.GridRepeats == 0 {
		c.GridRepeats = 3
	}
	if c.CommunityRepeats == 0 {
		c.CommunityRepeats = 5
	}
	if c.RisingMin == 0 {
		c.RisingMin = 8
	}
	if c.RisingFactor == 0 {
		c.RisingFactor = 2
	}
	c.Scan.defaults()
}

// HotSpot is a recurring problem found.
type HotSpot struct {
	ID, Rule, Category string
	// Place is the grid, community or district where it recurs; Area is the
	// place's units up to the city; Grid is where the last report came from.
	Place             string
	Area              []string
	Grid              string
	TicketIDs         []string
	Explanation       string
	DetectedAt        time.Time
	ProactiveTicketID string
	// Scan is the space-time scan's cluster (rule "scan"); nil for the count rules.
	Scan *ScanCluster
}

// Report is one report as the hot spot rules see it.
type Report struct {
	TicketID, Category, Grid, Community, District string
	// Area is the report's place, grid up to city.
	Area []string
	At   time.Time
}

// hotSpotStore is what the hot spot rules need of storage: the reads and
// writes of a window (windowStore), and the hot spots found. Writes join the
// transaction ctx carries.
type hotSpotStore interface {
	windowStore
	scanStore
	LinkProactive(ctx context.Context, hotSpotID, ticketID string) error
	HotSpots(ctx context.Context, unit string, limit int) ([]HotSpot, error)
}

// proactiveSource is whistle.v1.Source PROACTIVE: tickets raised from hot spots
// do not feed the rules again.
const proactiveSource = 7

// lookForHotSpot records a newly routed report and fires the hot spot rules
// it completes: the same matter recurring in a grid, in the grids of one
// community (counting only reports no hot spot holds yet), or rising in a
// district. Each hot spot is saved with an event
// that asks intake for one proactive ticket.
func (s *Service) lookForHotSpot(ctx context.Context, st State) error {
	return s.judgeReports(ctx, []State{st})
}

// judgeReports locks the places of routed reports (those hotSpotPlace
// names), reads their window (openWindow), judges each report in order as
// judgeReport does, and writes what the rules found.
func (s *Service) judgeReports(ctx context.Context, routed []State) error {
	var places []string
	var reports []Report
	var imported []bool
	for _, st := range routed {
		if k := hotSpotPlace(st); k != "" {
			places, reports, imported = append(places, k), append(reports, reportOf(st)), append(imported, st.M.Imported)
		}
	}
	if len(reports) == 0 {
		return nil
	}
	slices.Sort(places)
	if err := s.store.LockPlaces(ctx, slices.Compact(places)); err != nil {
		return err
	}
	w, err := s.openWindow(ctx, reports)
	if err != nil {
		return err
	}
	for i, r := range reports {
		s.judgeReport(withHistory(ctx, imported[i]), w, r)
	}
	return s.flush(ctx, w)
}

// reportOf is a routed report as the rules see it, its time as the
// database keeps it (microseconds).
func reportOf(st State) Report {
	return Report{TicketID: st.TicketID, Category: st.Category, Grid: st.Area[0], Community: st.Area[1], District: st.Area[3],
		Area: st.Area, At: st.ReportedAt.Truncate(time.Microsecond)}
}

// withHistory marks ctx as judging an imported report when it is one.
func withHistory(ctx context.Context, imported bool) context.Context {
	if imported {
		return context.WithValue(ctx, historicalKey{}, true)
	}
	return ctx
}

// judgeReport records a routed report and fires the rules it completes, its
// own window's and those of the later reports recorded before it.
func (s *Service) judgeReport(ctx context.Context, w *window, r Report) {
	w.RecordReport(r)
	s.judge(ctx, w, r)
	// Reports of the matter made after this one but recorded before it (they
	// were routed first) are judged again, now that this one counts in their
	// windows: whatever the order reports are routed in, each one's window
	// is judged once every report in it is known.
	for _, l := range w.ReportsAfter(r, r.At.Add(s.cfg.HotSpots.Window)) {
		s.judge(ctx, w, l)
	}
}

// judge fires the rules that the window ending at report r completes.
func (s *Service) judge(ctx context.Context, w *window, r Report) {
	cfg := s.cfg.HotSpots
	since := r.At.Add(-cfg.Window)
	for _, rule := range []struct {
		name, field, place string
		area               []string
		min                int
	}{
		{"repeat_grid", "grid", r.Grid, r.Area, cfg.GridRepeats},
		{"repeat_community", "community", r.Community, r.Area[1:], cfg.CommunityRepeats},
	} {
		ids := fresh(w, rule.field, rule.place, r, since)
		if len(ids) >= rule.min {
			why := fmt.Sprintf("%d reports of %s in %s %s within %s (rule %s: at least %d): %s",
				len(ids), r.Category, rule.field, rule.place, cfg.Window, rule.name, rule.min, strings.Join(ids, ", "))
			s.raise(ctx, w, rule.name, rule.place, rule.area, r, ids, why)
		}
	}
	s.lookForRising(ctx, w, r)
}

// hotSpotPlace names what the hot spot rules of a routed report read and
// write: its matter in its district, which holds every grid and community
// the rules look at. Reports of one place are judged one transaction at a
// time (a lock until commit), so batches applied side by side see each
// other's reports. It is "" for a report the rules ignore: synthetic,
// proactive, or from an area not fully known (an unknown grid has no place).
func hotSpotPlace(st State) string {
	if st.Synthetic || st.M.Source == proactiveSource || len(st.Area) != 5 {
		return ""
	}
	return placeOf(st.Category, st.Area[3])
}

// fresh returns the reports of the matter in a place within the window
// that no hot spot holds yet: one recurring problem makes one hot spot, not
// one per level.
func fresh(w *window, field, place string, r Report, since time.Time) []string {
	ids := w.Recent(field, place, r, since, r.At)
	if len(ids) == 0 {
		return nil
	}
	covered := w.Covered(r.Category, place, since)
	return slices.DeleteFunc(ids, func(id string) bool { return covered[id] })
}

// lookForRising fires the "rising" rule for the report's district.
func (s *Service) lookForRising(ctx context.Context, w *window, r Report) {
	cfg := s.cfg.HotSpots
	ids := fresh(w, "district", r.District, r, r.At.Add(-cfg.Window))
	if int64(len(ids)) < cfg.RisingMin {
		return
	}
	before := w.Recent("district", r.District, r, r.At.Add(-2*cfg.Window), r.At.Add(-cfg.Window))
	if int64(len(ids)) < cfg.RisingFactor*int64(len(before)) {
		return
	}
	why := fmt.Sprintf("%d reports of %s in district %s within %s, against %d in the %s before (rule rising: at least %d, and %d times as many): %s",
		len(ids), r.Category, r.District, cfg.Window, len(before), cfg.Window, cfg.RisingMin, cfg.RisingFactor, strings.Join(ids, ", "))
	s.raise(ctx, w, "rising", r.District, r.Area[3:], r, ids, why)
}

// raise saves a hot spot unless the rule fired for the place and matter
// within the window. Its id derives from the rule, the place, the matter and
// the report that completed it, so a replay of the stream finds the same one;
// a replay does not ask for its proactive ticket again.
func (s *Service) raise(ctx context.Context, w *window, rule, place string, area []string, r Report, ids []string, why string) {
	if w.HotSpotSince(rule, place, r.Category, r.At.Add(-s.cfg.HotSpots.Window)) {
		return
	}
	sum := sha256.Sum256([]byte(rule + "|" + place + "|" + r.Category + "|" + r.TicketID))
	h := HotSpot{ID: "hs-" + hex.EncodeToString(sum[:8]), Rule: rule, Category: r.Category, Place: place, Area: area,
		Grid: r.Grid, TicketIDs: ids, Explanation: why, DetectedAt: r.At}
	// A replay finds the hot spots live projection found and announced: the
	// stream holds those announcements already. One an imported report
	// completes would have fired in the past: it is kept, not announced.
	w.SaveHotSpot(h, !replaying(ctx) && !historical(ctx))
	s.log.InfoContext(ctx, "hot spot found", "hot_spot", h.ID, "rule", rule, "place", place, "category", r.Category)
}

// historicalKey marks the judging of an imported report.
type historicalKey struct{}

// historical reports whether ctx judges an imported report.
func historical(ctx context.Context) bool {
	v, _ := ctx.Value(historicalKey{}).(bool)
	return v
}
