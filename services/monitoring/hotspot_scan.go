package monitoring

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/geo"
	"github.com/whistle-civic/whistle/pkg/orgtree"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/scan"
)

// ScanRule is the rule name of the hot spots the space-time scan finds.
const ScanRule = "scan"

// ScanConfig tunes the space-time scan of hot spots (package pkg/scan: the
// prospective space-time permutation scan statistic): each matter's reports
// of the study period in a district, located at their grids' centres, are
// scanned for circles of grids whose last days hold more reports than the
// grids' own share and the days' own share would lead one to expect.
// Duplicates merged into their original are left out (a burst of reports of
// one incident would look like a cluster). The defaults are those
// docs/hotspots.md tuned on synthetic cities (make hotspot-eval).
type ScanConfig struct {
	// Every is how often the matters that had reports since their last scan
	// are scanned again. Default 10 minutes; negative turns the scan off
	// (the count rules still run).
	Every time.Duration
	// StudyDays is the study period: the days ending today whose reports
	// give each grid's and each day's share. Default 365.
	StudyDays int
	// MinStudyCases is the fewest reports of a matter in a district in the
	// study period for the scan to judge them: with fewer, no cluster could
	// be told from chance, and the count rules alone judge. Default 50.
	MinStudyCases int
	// Params are the scan's own parameters (pkg/scan.Params: maximum radius,
	// window, minimum cases, replicas); zero fields take this package's
	// defaults: a 500 m radius, 14 days, 3 reports, 999 replicas. A cluster
	// found again within the longest window continues its hot spot.
	Params scan.Params
	// AlarmP is the largest p-value that raises a hot spot. Default 0.005
	// (a recurrence interval of 200 days: on null synthetic cities, 0.06
	// false alarms a month for a matter in a district of 400 grids).
	AlarmP float64
	// Matters overrides Params and AlarmP for some matters, by code.
	Matters map[string]ScanMatter
}

// ScanMatter is a matter's own scan parameters; zero fields keep the
// city's.
type ScanMatter struct {
	Params scan.Params
	AlarmP float64
}

func (c *ScanConfig) defaults() {
	if c.Every == 0 {
		c.Every = 10 * time.Minute
	}
	if c.StudyDays <= 0 {
		c.StudyDays = 365
	}
	if c.MinStudyCases <= 0 {
		c.MinStudyCases = 50
	}
	p := &c.Params
	p.MaxRadiusMeters = cmp.Or(p.MaxRadiusMeters, 500)
	p.MaxWindowDays = cmp.Or(p.MaxWindowDays, 14)
	p.MinCases = cmp.Or(p.MinCases, 3)
	p.Replicas = cmp.Or(p.Replicas, 999)
	c.AlarmP = cmp.Or(c.AlarmP, 0.005)
}

// matter returns the parameters of one matter, its own over the city's.
func (c ScanConfig) matter(code string) (scan.Params, float64) {
	p, alarm := c.Params, c.AlarmP
	m, ok := c.Matters[code]
	if !ok {
		return p, alarm
	}
	o := m.Params
	p.MaxRadiusMeters, p.MaxLocations = cmp.Or(o.MaxRadiusMeters, p.MaxRadiusMeters), cmp.Or(o.MaxLocations, p.MaxLocations)
	p.MaxWindowDays, p.MinCases, p.Replicas = cmp.Or(o.MaxWindowDays, p.MaxWindowDays), cmp.Or(o.MinCases, p.MinCases), cmp.Or(o.Replicas, p.Replicas)
	return p, cmp.Or(m.AlarmP, alarm)
}

// ScanCluster is what the scan found of a hot spot: its cylinder and
// statistic (see pkg/scan.Cluster).
type ScanCluster struct {
	CentreGrid   string
	Grids        []string // nearest the centre first
	RadiusMeters float64
	WindowDays   int
	Observed     int
	Expected     float64
	LLR, P       float64
	Replicas     int
	UpdatedAt    time.Time
}

// RecurrenceDays is 1/P: the days between false alarms this strong, scanning daily.
func (c ScanCluster) RecurrenceDays() float64 { return 1 / c.P }

// matterStudy is one matter's reports of the study period in a district:
// how many, and when the latest was made.
type matterStudy struct {
	Category, District string
	Reports            int64
	Latest             time.Time
}

// gridDay is how many reports of a matter a grid had on a day of the study
// period (0 its first).
type gridDay struct {
	Grid       string
	Day, Count int
}

// scanStore is what the scan needs of storage. The writes take the
// transaction they join.
type scanStore interface {
	// StudyMatters returns each matter's reports made since start in each
	// district, duplicates merged into their original left out.
	StudyMatters(ctx context.Context, start time.Time) ([]matterStudy, error)
	// StudyCounts returns a matter's reports in a district since start by
	// grid and day, days counted in the time zone named, duplicates merged
	// into their original left out.
	StudyCounts(ctx context.Context, category, district string, start time.Time, zone string) ([]gridDay, error)
	// LockScan holds the matter's scan results for the transaction, so
	// replicas scanning at once record one after the other.
	LockScan(ctx context.Context, tx pgx.Tx, category string) error
	// ClusterTickets returns the matter's reports in the grids since from,
	// oldest first.
	ClusterTickets(ctx context.Context, tx pgx.Tx, category string, grids []string, from time.Time) ([]string, error)
	// HoldingHotSpots returns, oldest first and locked, the matter's scan hot
	// spots updated since a time that share a grid with grids, and its count
	// rules' hot spots that hold one of tickets.
	HoldingHotSpots(ctx context.Context, tx pgx.Tx, category string, grids, tickets []string, since time.Time) ([]HotSpot, error)
	// InsertScanHotSpot records a new hot spot and the event that asks
	// intake for its proactive ticket; UpdateScanHotSpot records one's
	// reports and statistic anew.
	InsertScanHotSpot(ctx context.Context, tx pgx.Tx, h HotSpot) error
	UpdateScanHotSpot(ctx context.Context, tx pgx.Tx, h HotSpot) error
	// StrongestClusters returns up to limit hot spots holding a scan
	// cluster in an area, updated in [from, to), by descending log
	// likelihood ratio, then reports.
	StrongestClusters(ctx context.Context, unit string, from, to time.Time, limit int) ([]HotSpot, error)
}

// scanned remembers, per matter, what its last scan saw, so that a matter
// without new reports is not scanned again the same day.
type scanned struct {
	latest time.Time
	day    time.Time
}

// runScan scans every Every until ctx ends.
func (s *Service) runScan(ctx context.Context) {
	seen := map[string]scanned{}
	clk := s.clock()
	platform.Every(ctx, s.cfg.HotSpots.Scan.Every, func(ctx context.Context) {
		if _, err := s.scanSince(ctx, clk.Now(), seen); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "hot spot scan failed; trying again at the next round", "err", err)
		}
	})
}

func (s *Service) clock() clock.Clock {
	if s.deps.Clock != nil {
		return s.deps.Clock
	}
	return clock.Real{}
}

// ScanHotSpots scans, as of now, each matter with at least MinStudyCases
// reports in the study period, raising a hot spot for each significant
// cluster or updating the one raised for it already. It returns the hot
// spots of the clusters found. It does nothing when no grid has a centre.
func (s *Service) ScanHotSpots(ctx context.Context, now time.Time) ([]HotSpot, error) {
	return s.scanSince(ctx, now, nil)
}

// scanSince is ScanHotSpots leaving out the matters and districts without a
// report since seen's record of them (nil: none), and recording what it
// scanned in seen.
func (s *Service) scanSince(ctx context.Context, now time.Time, seen map[string]scanned) ([]HotSpot, error) {
	cfg := s.cfg.HotSpots.Scan
	centres, err := s.deps.Tree().Centres(ctx)
	if err != nil || len(centres) == 0 {
		return nil, err // no grid has a centre: the count rules alone judge
	}
	y, m, d := now.In(s.loc).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, s.loc)
	start := today.AddDate(0, 0, 1-cfg.StudyDays)
	studies, err := s.hot.StudyMatters(ctx, start)
	if err != nil {
		return nil, fmt.Errorf("the matters of the scan's study period: %w", err)
	}
	var found []HotSpot
	for _, st := range studies {
		key := st.Category + "|" + st.District
		if st.Reports < int64(cfg.MinStudyCases) || seen[key] == (scanned{st.Latest, today}) {
			continue
		}
		grids, err := s.districtGrids(ctx, st.District, centres)
		if err != nil {
			return found, err
		}
		hs, err := s.scanMatter(ctx, st, grids, centres, start, today, now)
		if err != nil {
			return found, fmt.Errorf("scan %s in %s: %w", st.Category, st.District, err)
		}
		if seen != nil {
			seen[key] = scanned{st.Latest, today}
		}
		found = append(found, hs...)
	}
	return found, nil
}

// districtGrids are the grids of a district that have a centre, sorted.
func (s *Service) districtGrids(ctx context.Context, district string, centres map[string]geo.Point) ([]string, error) {
	under, err := s.deps.Tree().Under(ctx, district)
	if errors.Is(err, orgtree.ErrUnknownUnit) {
		return nil, nil // a district a newer catalog removed: nothing to scan
	}
	if err != nil {
		return nil, err
	}
	var grids []string
	for _, u := range under {
		if _, ok := centres[u]; ok {
			grids = append(grids, u)
		}
	}
	slices.Sort(grids)
	return grids, nil
}

// scanMatter scans one matter in one district and records its significant
// clusters.
func (s *Service) scanMatter(ctx context.Context, st matterStudy, grids []string, centres map[string]geo.Point, start, today, now time.Time) ([]HotSpot, error) {
	category := st.Category
	index := make(map[string]int, len(grids))
	locs := make([]geo.Point, len(grids))
	for i, g := range grids {
		index[g], locs[i] = i, centres[g]
	}
	began := time.Now()
	counts, err := s.hot.StudyCounts(ctx, category, st.District, start, s.cfg.TimeZone)
	if err != nil {
		return nil, err
	}
	read := time.Since(began)
	var cases []scan.Case
	for _, c := range counts {
		l, ok := index[c.Grid]
		if !ok || c.Day < 0 {
			continue // a grid without a centre: the count rules judge its reports
		}
		for range c.Count {
			cases = append(cases, scan.Case{Location: l, Day: c.Day})
		}
	}
	if len(cases) == 0 {
		return nil, nil
	}
	days := int(today.Sub(start).Hours()/24+0.5) + 1
	p, alarm := s.cfg.HotSpots.Scan.matter(category)
	p.ReportP, p.Seed = alarm, seed(category+"|"+st.District, today)
	res, err := scan.Scan(locs, cases, days, p)
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "matter scanned", "category", category, "district", st.District, "reports", len(cases), "clusters", len(res.Clusters),
		"read", read, "scan", time.Since(began)-read)
	var out []HotSpot
	for _, c := range res.Clusters {
		h, err := s.recordCluster(ctx, category, grids, c, res.Replicas, p.MaxWindowDays, start.AddDate(0, 0, c.StartDay), now)
		if err != nil {
			return out, err
		}
		out = append(out, h)
	}
	return out, nil
}

// seed makes a day's replicas of a matter reproducible.
func seed(category string, day time.Time) uint64 {
	sum := sha256.Sum256([]byte(category + "|" + day.Format(time.DateOnly)))
	return binary.BigEndian.Uint64(sum[:8])
}

// recordCluster raises a hot spot for a cluster, or updates the hot spot
// that holds it already: one of the scan's for the matter found within the
// longest window (maxWindow days) that shares a grid with it, or one of the count rules'
// that holds one of its reports. One cluster, as it grows, keeps one hot
// spot and one proactive ticket.
func (s *Service) recordCluster(ctx context.Context, category string, grids []string, c scan.Cluster, replicas, maxWindow int,
	from, now time.Time) (HotSpot, error) {
	sc := ScanCluster{CentreGrid: grids[c.Centre], RadiusMeters: c.RadiusMeters, WindowDays: c.EndDay - c.StartDay + 1,
		Observed: c.Observed, Expected: c.Expected, LLR: c.LLR, P: c.P, Replicas: replicas, UpdatedAt: now}
	for _, l := range c.Locations {
		sc.Grids = append(sc.Grids, grids[l])
	}
	var h HotSpot
	err := s.deps.DB.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if err := s.hot.LockScan(ctx, tx, category); err != nil {
			return err
		}
		tickets, err := s.hot.ClusterTickets(ctx, tx, category, sc.Grids, from)
		if err != nil {
			return err
		}
		held, err := s.hot.HoldingHotSpots(ctx, tx, category, sc.Grids, tickets, now.AddDate(0, 0, -maxWindow))
		if err != nil {
			return err
		}
		if len(held) > 0 {
			h = grow(held[0], sc, tickets)
			return s.hot.UpdateScanHotSpot(ctx, tx, h)
		}
		path, err := s.deps.Tree().Path(ctx, sc.CentreGrid)
		if err != nil {
			return err
		}
		h = newScanHotSpot(category, sc, tickets, path)
		return s.hot.InsertScanHotSpot(ctx, tx, h)
	})
	if err == nil {
		s.log.InfoContext(ctx, "hot spot scanned", "hot_spot", h.ID, "category", category, "centre", sc.CentreGrid, "p", sc.P)
	}
	return h, err
}

// newScanHotSpot is a cluster's first hot spot; its id derives from the
// matter, the centre and the first report, so that two replicas scanning at
// once make the same one.
func newScanHotSpot(category string, sc ScanCluster, tickets, path []string) HotSpot {
	first := ""
	if len(tickets) > 0 {
		first = tickets[0]
	}
	sum := sha256.Sum256([]byte(ScanRule + "|" + category + "|" + sc.CentreGrid + "|" + first))
	return HotSpot{ID: "hs-" + hex.EncodeToString(sum[:8]), Rule: ScanRule, Category: category, Place: sc.CentreGrid,
		Area: path, Grid: sc.CentreGrid, TicketIDs: tickets, Explanation: explainScan(category, sc), DetectedAt: sc.UpdatedAt, Scan: &sc}
}

// grow updates a hot spot with the cluster found again: its reports are
// those it held and the cluster's, its statistic the latest.
func grow(h HotSpot, sc ScanCluster, tickets []string) HotSpot {
	for _, t := range tickets {
		if !slices.Contains(h.TicketIDs, t) {
			h.TicketIDs = append(h.TicketIDs, t)
		}
	}
	if h.Scan != nil {
		for _, g := range h.Scan.Grids {
			if !slices.Contains(sc.Grids, g) {
				sc.Grids = append(sc.Grids, g)
			}
		}
	}
	h.Scan = &sc
	if h.Rule == ScanRule {
		h.Explanation = explainScan(h.Category, sc)
	}
	return h
}

// explainScan says why a cluster is a hot spot, in the words of the statistic.
func explainScan(category string, sc ScanCluster) string {
	return fmt.Sprintf("%d reports of %s within %.0f m of grid %s in the last %d days (grids %s), against %.1f expected "+
		"from the grids' and the days' own shares: log likelihood ratio %.2f, p = %.3g over %d replicas "+
		"(a false alarm this strong once in %.0f days of daily scans; rule scan)",
		sc.Observed, category, sc.RadiusMeters, sc.CentreGrid, sc.WindowDays, strings.Join(sc.Grids, ", "), sc.Expected,
		sc.LLR, sc.P, sc.Replicas, sc.RecurrenceDays())
}
