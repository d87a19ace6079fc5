package monitoring

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/outbox"
)

// RecordReport keeps a report for the hot spot rules' windows.
func (s *store) RecordReport(ctx context.Context, r Report) error {
	_, err := s.db.Q(ctx).Exec(ctx, `INSERT INTO recent_reports (ticket_id, category, grid_id, community, district, reported_at, area_ids)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`, r.TicketID, r.Category, r.Grid, r.Community, r.District, r.At, r.Area)
	return err
}

// ReportsAfter returns the reports of r's matter and district made from r's
// time up to until, r itself left out, oldest first.
func (s *store) ReportsAfter(ctx context.Context, r Report, until time.Time) ([]Report, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT ticket_id::text, category, grid_id, community, district, area_ids, reported_at
		FROM recent_reports WHERE category = $1 AND district = $2 AND reported_at >= $3 AND reported_at <= $4
			AND ticket_id <> $5 AND cardinality(area_ids) = 5
		ORDER BY reported_at, ticket_id`, r.Category, r.District, r.At, until, r.TicketID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Report, error) {
		var l Report
		err := row.Scan(&l.TicketID, &l.Category, &l.Grid, &l.Community, &l.District, &l.Area, &l.At)
		l.At = l.At.UTC()
		return l, err
	})
}

// placeColumns maps the places of the hot spot rules to their columns.
var placeColumns = map[string]string{"grid": "grid_id", "community": "community", "district": "district"}

// Recent returns the tickets of a matter reported in a grid, community or
// district (field) in (since, until], oldest first.
func (s *store) Recent(ctx context.Context, field, place, category string, since, until time.Time) ([]string, error) {
	col, ok := placeColumns[field]
	if !ok {
		return nil, fmt.Errorf("no place %q", field)
	}
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT ticket_id::text FROM recent_reports
		WHERE category = $1 AND `+col+` = $2 AND reported_at > $3 AND reported_at <= $4 ORDER BY reported_at, ticket_id`,
		category, place, since, until)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Covered returns the tickets of a matter that already belong to a hot spot
// in an area, found since a time.
func (s *store) Covered(ctx context.Context, category, unit string, since time.Time) ([]string, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT DISTINCT unnest(ticket_ids)::text FROM hot_spots
		WHERE category = $1 AND $2 = ANY(area_ids) AND detected_at >= $3`, category, unit, since)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// HotSpotSince reports whether a rule already fired for a place and matter since a time.
func (s *store) HotSpotSince(ctx context.Context, rule, place, category string, since time.Time) (bool, error) {
	var found bool
	err := s.db.Q(ctx).QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM hot_spots
		WHERE rule = $1 AND org_unit_id = $2 AND category = $3 AND detected_at >= $4)`, rule, place, category, since).Scan(&found)
	return found, err
}

// SaveHotSpot records a hot spot and, when announce is set, the event that
// asks intake for a proactive ticket, in the transaction ctx carries.
func (s *store) SaveHotSpot(ctx context.Context, h HotSpot, announce bool) error {
	return s.db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO hot_spots (id, rule, category, org_unit_id, area_ids, ticket_ids, explanation, detected_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
			h.ID, h.Rule, h.Category, h.Place, h.Area, h.TicketIDs, h.Explanation, h.DetectedAt)
		if err != nil || tag.RowsAffected() == 0 || !announce {
			return err
		}
		return outbox.Append(ctx, tx, toProactiveEvent(h))
	})
}

// LinkProactive records the ticket intake raised for a hot spot.
func (s *store) LinkProactive(ctx context.Context, hotSpotID, ticketID string) error {
	_, err := s.db.Q(ctx).Exec(ctx, `UPDATE hot_spots SET proactive_ticket_id = $2 WHERE id = $1`, hotSpotID, ticketID)
	return err
}

// HotSpots lists hot spots in an area ("" for all), newest first.
func (s *store) HotSpots(ctx context.Context, unit string, limit int) ([]HotSpot, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT id, rule, category, org_unit_id, area_ids, ticket_ids::text[], explanation,
			detected_at, coalesce(proactive_ticket_id::text, '')
		FROM hot_spots WHERE $1 = '' OR $1 = ANY(area_ids) ORDER BY detected_at DESC, id LIMIT $2`, unit, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (HotSpot, error) {
		var h HotSpot
		err := row.Scan(&h.ID, &h.Rule, &h.Category, &h.Place, &h.Area, &h.TicketIDs, &h.Explanation, &h.DetectedAt, &h.ProactiveTicketID)
		h.DetectedAt = h.DetectedAt.UTC()
		return h, err
	})
}
