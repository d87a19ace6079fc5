package monitoring

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/outbox"
)

// WindowReports returns the recorded reports of each place (matter and
// district) made within its bounds, inclusive, with one statement.
func (s *store) WindowReports(ctx context.Context, bounds []placeBounds) ([]Report, error) {
	cats, districts, from, to := boundsColumns(bounds)
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT r.ticket_id::text, r.category, r.grid_id, r.community, r.district, r.area_ids, r.reported_at
		FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) AS p(category, district, lo, hi)
		JOIN recent_reports r ON r.category = p.category AND r.district = p.district AND r.reported_at >= p.lo AND r.reported_at <= p.hi`,
		cats, districts, from, to)
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

func boundsColumns(bounds []placeBounds) (cats, districts []string, from, to []time.Time) {
	for _, b := range bounds {
		cats, districts, from, to = append(cats, b.Category), append(districts, b.District), append(from, b.From), append(to, b.To)
	}
	return cats, districts, from, to
}

// WindowHotSpots returns the hot spots of each place's matter whose area
// holds its district, found since its bounds' From, with one statement.
func (s *store) WindowHotSpots(ctx context.Context, bounds []placeBounds) ([]HotSpot, error) {
	cats, districts, from, _ := boundsColumns(bounds)
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT h.id, h.rule, h.category, h.org_unit_id, h.area_ids, h.ticket_ids::text[], h.detected_at
		FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS p(category, district, since)
		JOIN hot_spots h ON h.category = p.category AND p.district = ANY(h.area_ids) AND h.detected_at >= p.since`,
		cats, districts, from)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (HotSpot, error) {
		var h HotSpot
		err := row.Scan(&h.ID, &h.Rule, &h.Category, &h.Place, &h.Area, &h.TicketIDs, &h.DetectedAt)
		h.DetectedAt = h.DetectedAt.UTC()
		return h, err
	})
}

// RecordReports keeps reports for the hot spot rules' windows, with one
// statement; a ticket's report recorded already stays as it is.
func (s *store) RecordReports(ctx context.Context, rs []Report) error {
	if len(rs) == 0 {
		return nil
	}
	ids, cats, grids, communities, districts, areas := make([]string, len(rs)), make([]string, len(rs)), make([]string, len(rs)),
		make([]string, len(rs)), make([]string, len(rs)), make([]string, len(rs))
	at := make([]time.Time, len(rs))
	for i, r := range rs {
		ids[i], cats[i], grids[i], communities[i], districts[i], at[i] = r.TicketID, r.Category, r.Grid, r.Community, r.District, r.At
		areas[i] = strings.Join(r.Area, ",")
	}
	_, err := s.db.Q(ctx).Exec(ctx, `INSERT INTO recent_reports (ticket_id, category, grid_id, community, district, reported_at, area_ids)
		SELECT id, c, g, co, d, t, string_to_array(a, ',')
		FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[]) AS r(id, c, g, co, d, t, a)
		ON CONFLICT DO NOTHING`, ids, cats, grids, communities, districts, at, areas)
	return err
}

// SaveHotSpots records hot spots with one statement and, for those it wrote
// whose announce is set, the events that ask intake for a proactive ticket,
// in the transaction ctx carries; one recorded already stays as it is.
func (s *store) SaveHotSpots(ctx context.Context, hs []HotSpot, announce []bool) error {
	return s.db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `INSERT INTO hot_spots (id, rule, category, org_unit_id, area_ids, ticket_ids, explanation, detected_at)
			SELECT h->>'id', h->>'rule', h->>'category', h->>'place', ARRAY(SELECT jsonb_array_elements_text(h->'area')),
				ARRAY(SELECT jsonb_array_elements_text(h->'tickets'))::uuid[], h->>'why', (h->>'at')::timestamptz
			FROM jsonb_array_elements($1::jsonb) AS h
			ON CONFLICT DO NOTHING RETURNING id`, hotSpotsJSON(hs))
		if err != nil {
			return err
		}
		written, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for i, h := range hs {
			if announce[i] && slices.Contains(written, h.ID) {
				if err := outbox.Append(ctx, tx, toProactiveEvent(h)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// hotSpotsJSON carries hot spots to SaveHotSpots' one statement (their
// lists of areas and tickets do not fit unnest's one dimension).
func hotSpotsJSON(hs []HotSpot) []map[string]any {
	out := make([]map[string]any, len(hs))
	for i, h := range hs {
		out[i] = map[string]any{"id": h.ID, "rule": h.Rule, "category": h.Category, "place": h.Place, "area": h.Area,
			"tickets": h.TicketIDs, "why": h.Explanation, "at": h.DetectedAt.Format(time.RFC3339Nano)}
	}
	return out
}

// LinkProactive records the ticket intake raised for a hot spot.
func (s *store) LinkProactive(ctx context.Context, hotSpotID, ticketID string) error {
	_, err := s.db.Q(ctx).Exec(ctx, `UPDATE hot_spots SET proactive_ticket_id = $2 WHERE id = $1`, hotSpotID, ticketID)
	return err
}

// HotSpots lists hot spots in an area ("" for all), newest first.
func (s *store) HotSpots(ctx context.Context, unit string, limit int) ([]HotSpot, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT `+hotSpotColumns+`
		FROM hot_spots WHERE $1 = '' OR $1 = ANY(area_ids) ORDER BY detected_at DESC, id LIMIT $2`, unit, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanHotSpot)
}
