package monitoring

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/outbox"
)

// notMerged leaves out the reports of duplicates merged into their original.
const notMerged = `r.ticket_id NOT IN (SELECT ticket_id FROM tickets WHERE memory ? 'merged_into')`

// StudyMatters returns each matter's reports made since start in each
// district, with one statement.
func (s *store) StudyMatters(ctx context.Context, start time.Time) ([]matterStudy, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT r.category, r.district, count(*), max(r.reported_at) FROM recent_reports r
		WHERE r.reported_at >= $1 AND `+notMerged+` GROUP BY 1, 2 ORDER BY 1, 2`, start)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (matterStudy, error) {
		var m matterStudy
		err := row.Scan(&m.Category, &m.District, &m.Reports, &m.Latest)
		return m, err
	})
}

// StudyCounts returns a matter's reports in a district since start by grid
// and day (the day of the zone named, 0 for start's), with one statement.
func (s *store) StudyCounts(ctx context.Context, category, district string, start time.Time, zone string) ([]gridDay, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT r.grid_id, ((r.reported_at AT TIME ZONE $4)::date - ($3::timestamptz AT TIME ZONE $4)::date), count(*)::int
		FROM recent_reports r WHERE r.category = $1 AND r.district = $2 AND r.reported_at >= $3 AND `+notMerged+`
		GROUP BY 1, 2 ORDER BY 1, 2`, category, district, start, zone)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (gridDay, error) {
		var g gridDay
		err := row.Scan(&g.Grid, &g.Day, &g.Count)
		return g, err
	})
}

// LockScan takes a transaction lock on the matter's scan results.
func (s *store) LockScan(ctx context.Context, tx pgx.Tx, category string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('monitoring-scan|' || $1, 0))`, category)
	return err
}

// ClusterTickets returns the matter's reports in the grids since from,
// oldest first.
func (s *store) ClusterTickets(ctx context.Context, tx pgx.Tx, category string, grids []string, from time.Time) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT r.ticket_id::text FROM recent_reports r WHERE r.category = $1 AND r.grid_id = ANY($2) AND r.reported_at >= $3
		AND `+notMerged+` ORDER BY r.reported_at, r.ticket_id`, category, grids, from)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

const hotSpotColumns = `id, rule, category, org_unit_id, area_ids, ticket_ids::text[], explanation, detected_at,
	coalesce(proactive_ticket_id::text, ''), grid_ids, radius_meters, window_days, observed, expected, llr, p_value, replicas, updated_at`

// scanHotSpot reads a row of hotSpotColumns.
func scanHotSpot(row pgx.CollectableRow) (HotSpot, error) {
	var h HotSpot
	var sc ScanCluster
	var updated *time.Time
	err := row.Scan(&h.ID, &h.Rule, &h.Category, &h.Place, &h.Area, &h.TicketIDs, &h.Explanation, &h.DetectedAt, &h.ProactiveTicketID,
		&sc.Grids, &sc.RadiusMeters, &sc.WindowDays, &sc.Observed, &sc.Expected, &sc.LLR, &sc.P, &sc.Replicas, &updated)
	h.DetectedAt = h.DetectedAt.UTC()
	if updated != nil {
		sc.UpdatedAt = updated.UTC()
		if len(sc.Grids) > 0 {
			sc.CentreGrid = sc.Grids[0]
		}
		h.Scan = &sc
	}
	return h, err
}

// HoldingHotSpots returns the hot spots that hold a cluster already, oldest
// first, locked for the transaction.
func (s *store) HoldingHotSpots(ctx context.Context, tx pgx.Tx, category string, grids, tickets []string, since time.Time) ([]HotSpot, error) {
	rows, err := tx.Query(ctx, `SELECT `+hotSpotColumns+` FROM hot_spots WHERE category = $1 AND (
			(rule = 'scan' AND updated_at >= $4 AND grid_ids && $2::text[]) OR (rule <> 'scan' AND ticket_ids && $3::uuid[]))
		ORDER BY detected_at, id FOR UPDATE`, category, grids, tickets, since)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanHotSpot)
}

// InsertScanHotSpot records a new scan hot spot and its announcement; a hot
// spot of that id recorded already stays as it is, unannounced again.
func (s *store) InsertScanHotSpot(ctx context.Context, tx pgx.Tx, h HotSpot) error {
	sc := h.Scan
	tag, err := tx.Exec(ctx, `INSERT INTO hot_spots (id, rule, category, org_unit_id, area_ids, ticket_ids, explanation, detected_at,
			grid_ids, radius_meters, window_days, observed, expected, llr, p_value, replicas, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6::uuid[], $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $8) ON CONFLICT DO NOTHING`,
		h.ID, h.Rule, h.Category, h.Place, h.Area, h.TicketIDs, h.Explanation, h.DetectedAt,
		sc.Grids, sc.RadiusMeters, sc.WindowDays, sc.Observed, sc.Expected, sc.LLR, sc.P, sc.Replicas)
	if err != nil || tag.RowsAffected() == 0 {
		return err
	}
	return outbox.Append(ctx, tx, toProactiveEvent(h))
}

// UpdateScanHotSpot records a hot spot's reports, explanation and latest
// statistic.
func (s *store) UpdateScanHotSpot(ctx context.Context, tx pgx.Tx, h HotSpot) error {
	sc := h.Scan
	_, err := tx.Exec(ctx, `UPDATE hot_spots SET ticket_ids = $2::uuid[], explanation = $3, grid_ids = $4, radius_meters = $5,
			window_days = $6, observed = $7, expected = $8, llr = $9, p_value = $10, replicas = $11, updated_at = $12
		WHERE id = $1`, h.ID, h.TicketIDs, h.Explanation, sc.Grids, sc.RadiusMeters, sc.WindowDays, sc.Observed, sc.Expected,
		sc.LLR, sc.P, sc.Replicas, sc.UpdatedAt)
	return err
}

// StrongestClusters lists the scan's clusters of an area updated in a span,
// strongest first, with one statement.
func (s *store) StrongestClusters(ctx context.Context, unit string, from, to time.Time, limit int) ([]HotSpot, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT `+hotSpotColumns+` FROM hot_spots
		WHERE updated_at >= $2 AND updated_at < $3 AND $1 = ANY(area_ids)
		ORDER BY llr DESC, observed DESC, id LIMIT $4`, unit, from, to, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanHotSpot)
}
