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
}

// Report is one report as the hot spot rules see it.
type Report struct {
	TicketID, Category, Grid, Community, District string
	// Area is the report's place, grid up to city.
	Area []string
	At   time.Time
}

// hotSpotStore is what the hot spot rules need of storage. Writes join the
// transaction ctx carries.
type hotSpotStore interface {
	RecordReport(ctx context.Context, r Report) error
	// ReportsAfter returns the reports of r's matter and district made from
	// r's time (r itself left out) up to until, oldest first.
	ReportsAfter(ctx context.Context, r Report, until time.Time) ([]Report, error)
	Recent(ctx context.Context, field, place, category string, since, until time.Time) ([]string, error)
	Covered(ctx context.Context, category, unit string, since time.Time) ([]string, error)
	HotSpotSince(ctx context.Context, rule, place, category string, since time.Time) (bool, error)
	SaveHotSpot(ctx context.Context, h HotSpot, announce bool) error
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
	place := hotSpotPlace(st)
	if place == "" {
		return nil
	}
	if err := s.store.LockPlaces(ctx, []string{place}); err != nil {
		return err
	}
	return s.judgeReport(ctx, st)
}

// judgeReport records a routed report (one hotSpotPlace names, its place
// locked) and fires the rules it completes, its own window's and those of
// the later reports recorded before it.
func (s *Service) judgeReport(ctx context.Context, st State) error {
	if st.M.Imported {
		ctx = context.WithValue(ctx, historicalKey{}, true)
	}
	r := Report{TicketID: st.TicketID, Category: st.Category, Grid: st.Area[0], Community: st.Area[1], District: st.Area[3],
		Area: st.Area, At: st.ReportedAt}
	if err := s.hot.RecordReport(ctx, r); err != nil {
		return err
	}
	if err := s.judge(ctx, r); err != nil {
		return err
	}
	// Reports of the matter made after this one but recorded before it (they
	// were routed first) are judged again, now that this one counts in their
	// windows: whatever the order reports are routed in, each one's window
	// is judged once every report in it is known.
	later, err := s.hot.ReportsAfter(ctx, r, r.At.Add(s.cfg.HotSpots.Window))
	if err != nil {
		return err
	}
	for _, l := range later {
		if err := s.judge(ctx, l); err != nil {
			return err
		}
	}
	return nil
}

// judge fires the rules that the window ending at report r completes.
func (s *Service) judge(ctx context.Context, r Report) error {
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
		ids, err := s.fresh(ctx, rule.field, rule.place, r, since)
		if err != nil {
			return err
		}
		if len(ids) >= rule.min {
			why := fmt.Sprintf("%d reports of %s in %s %s within %s (rule %s: at least %d): %s",
				len(ids), r.Category, rule.field, rule.place, cfg.Window, rule.name, rule.min, strings.Join(ids, ", "))
			if err := s.raise(ctx, rule.name, rule.place, rule.area, r, ids, why); err != nil {
				return err
			}
		}
	}
	return s.lookForRising(ctx, r)
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
	return st.Category + "|" + st.Area[3]
}

// fresh returns the reports of the matter in a place within the window
// that no hot spot holds yet: one recurring problem makes one hot spot, not
// one per level.
func (s *Service) fresh(ctx context.Context, field, place string, r Report, since time.Time) ([]string, error) {
	ids, err := s.hot.Recent(ctx, field, place, r.Category, since, r.At)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	covered, err := s.hot.Covered(ctx, r.Category, place, since)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(ids, func(id string) bool { return slices.Contains(covered, id) }), nil
}

// lookForRising fires the "rising" rule for the report's district.
func (s *Service) lookForRising(ctx context.Context, r Report) error {
	cfg := s.cfg.HotSpots
	ids, err := s.fresh(ctx, "district", r.District, r, r.At.Add(-cfg.Window))
	if err != nil || int64(len(ids)) < cfg.RisingMin {
		return err
	}
	before, err := s.hot.Recent(ctx, "district", r.District, r.Category, r.At.Add(-2*cfg.Window), r.At.Add(-cfg.Window))
	if err != nil || int64(len(ids)) < cfg.RisingFactor*int64(len(before)) {
		return err
	}
	why := fmt.Sprintf("%d reports of %s in district %s within %s, against %d in the %s before (rule rising: at least %d, and %d times as many): %s",
		len(ids), r.Category, r.District, cfg.Window, len(before), cfg.Window, cfg.RisingMin, cfg.RisingFactor, strings.Join(ids, ", "))
	return s.raise(ctx, "rising", r.District, r.Area[3:], r, ids, why)
}

// raise saves a hot spot unless the rule fired for the place and matter
// within the window. Its id derives from the rule, the place, the matter and
// the report that completed it, so a replay of the stream finds the same one;
// a replay does not ask for its proactive ticket again.
func (s *Service) raise(ctx context.Context, rule, place string, area []string, r Report, ids []string, why string) error {
	fired, err := s.hot.HotSpotSince(ctx, rule, place, r.Category, r.At.Add(-s.cfg.HotSpots.Window))
	if err != nil || fired {
		return err
	}
	sum := sha256.Sum256([]byte(rule + "|" + place + "|" + r.Category + "|" + r.TicketID))
	h := HotSpot{ID: "hs-" + hex.EncodeToString(sum[:8]), Rule: rule, Category: r.Category, Place: place, Area: area,
		Grid: r.Grid, TicketIDs: ids, Explanation: why, DetectedAt: r.At}
	// A replay finds the hot spots live projection found and announced: the
	// stream holds those announcements already. One an imported report
	// completes would have fired in the past: it is kept, not announced.
	if err := s.hot.SaveHotSpot(ctx, h, !replaying(ctx) && !historical(ctx)); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "hot spot found", "hot_spot", h.ID, "rule", rule, "place", place, "category", r.Category)
	return nil
}

// historicalKey marks the judging of an imported report.
type historicalKey struct{}

// historical reports whether ctx judges an imported report.
func historical(ctx context.Context) bool {
	v, _ := ctx.Value(historicalKey{}).(bool)
	return v
}
