package monitoring

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// spanScores and spanStages read a unit's daily and monthly rows over a
// span ($2..$7 as span.args gives them after the unit, $1).
const (
	spanScores = `SELECT fact, n FROM scores WHERE unit_id = $1 AND (day BETWEEN $2 AND $3 OR day BETWEEN $4 AND $5)
		UNION ALL SELECT fact, n FROM scores_monthly WHERE unit_id = $1 AND month BETWEEN $6 AND $7`
	spanStages = `SELECT stage, bucket, n, seconds FROM stage_times
			WHERE unit_id = $1 AND (day BETWEEN $2 AND $3 OR day BETWEEN $4 AND $5)
		UNION ALL SELECT stage, bucket, n, seconds FROM stage_times_monthly WHERE unit_id = $1 AND month BETWEEN $6 AND $7`
)

// Facts returns a unit's fact totals and stage histograms over days from..to
// (YYYY-MM-DD, included), and its live open and overdue counts.
func (s *store) Facts(ctx context.Context, unit, from, to string) (map[string]int64, map[string]*stageBuckets, int64, int64, error) {
	q := s.db.Q(ctx)
	sp := spanOf(from, to)
	facts := map[string]int64{}
	rows, err := q.Query(ctx, `SELECT fact, sum(n)::bigint FROM (`+spanScores+`) f GROUP BY fact`, sp.args(unit)...)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	var fact string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&fact, &n}, func() error { facts[fact] = n; return nil }); err != nil {
		return nil, nil, 0, 0, err
	}
	stages := map[string]*stageBuckets{}
	rows, err = q.Query(ctx, `SELECT stage, bucket, sum(n)::bigint, sum(seconds)::bigint FROM (`+spanStages+`) st
		GROUP BY stage, bucket`, sp.args(unit)...)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	var stage string
	var bucket int
	var secs int64
	if _, err := pgx.ForEachRow(rows, []any{&stage, &bucket, &n, &secs}, func() error {
		b := stages[stage]
		if b == nil {
			b = &stageBuckets{counts: map[int]int64{}}
			stages[stage] = b
		}
		b.counts[bucket] += n
		b.seconds += secs
		return nil
	}); err != nil {
		return nil, nil, 0, 0, err
	}
	var open, overdue int64
	err = q.QueryRow(ctx, `SELECT coalesce(sum(open), 0)::bigint, coalesce(sum(overdue), 0)::bigint FROM live WHERE unit_id = $1`,
		unit).Scan(&open, &overdue)
	return facts, stages, open, overdue, err
}

// UnitFacts returns the fact totals over days from..to of every unit of a
// kind (under within, when given).
func (s *store) UnitFacts(ctx context.Context, kind, within, from, to string) (map[string]map[string]int64, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT u.unit_id, f.fact, sum(f.n)::bigint FROM units u
		LEFT JOIN LATERAL (
			SELECT fact, n FROM scores WHERE unit_id = u.unit_id AND (day BETWEEN $1 AND $2 OR day BETWEEN $3 AND $4)
			UNION ALL SELECT fact, n FROM scores_monthly WHERE unit_id = u.unit_id AND month BETWEEN $5 AND $6
		) f ON true
		WHERE u.kind = $7 AND ($8 = '' OR $8 = ANY(u.path))
		GROUP BY u.unit_id, f.fact`, append(spanOf(from, to).args(), kind, within)...)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]int64{}
	var unit string
	var fact *string
	var n *int64
	_, err = pgx.ForEachRow(rows, []any{&unit, &fact, &n}, func() error {
		if out[unit] == nil {
			out[unit] = map[string]int64{}
		}
		if fact != nil && n != nil {
			out[unit][*fact] = *n
		}
		return nil
	})
	return out, err
}

// Unit returns an org unit figures are kept for, or ErrUnknownUnit.
func (s *store) Unit(ctx context.Context, id string) (Unit, error) {
	u := Unit{ID: id}
	err := s.db.Q(ctx).QueryRow(ctx, `SELECT kind, path FROM units WHERE unit_id = $1`, id).Scan(&u.Kind, &u.Path)
	if errors.Is(err, pgx.ErrNoRows) {
		return Unit{}, ErrUnknownUnit
	}
	return u, err
}

// Overdue returns open tickets past a deadline, most escalated first, of a
// department or area (all when unit is ""), after a position.
func (s *store) Overdue(ctx context.Context, unit string, after overdueCursor, limit int) ([]State, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT `+stateColumns+` FROM tickets
		WHERE overdue AND NOT synthetic AND ($1 = '' OR lead_department_id = $1 OR $1 = ANY(area_ids))
		AND ($2 = '' OR (-escalation_level, stage_due, ticket_id) > (-$3::int, $4::timestamptz, $2::uuid))
		ORDER BY escalation_level DESC, stage_due, ticket_id LIMIT $5`,
		unit, after.TicketID, after.Level, after.Due, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, fromStateRow)
}

// OverdueByStage counts the open tickets past each stage's deadline.
func (s *store) OverdueByStage(ctx context.Context) (map[string]int64, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT overdue_stage, count(*) FROM tickets WHERE overdue AND NOT synthetic
		GROUP BY overdue_stage`)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	var stage string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&stage, &n}, func() error { out[stage] = n; return nil })
	return out, err
}

// overdueCursor is a position in the overdue list.
type overdueCursor struct {
	TicketID string
	Level    int32
	Due      time.Time
}

// Board counts open escalated tickets by level, per lead department and per
// street, within unit ("" for all).
func (s *store) Board(ctx context.Context, unit string) ([]BoardRow, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT g.unit, count(*) FILTER (WHERE escalation_level = 1),
			count(*) FILTER (WHERE escalation_level = 2), count(*) FILTER (WHERE escalation_level >= 3)
		FROM tickets t, LATERAL (VALUES (t.lead_department_id), (CASE WHEN cardinality(t.area_ids) = 5 THEN t.area_ids[3] END)) g(unit)
		WHERE t.escalation_level > 0 AND t.status NOT IN (6, 9, 10) AND NOT t.synthetic AND g.unit <> ''
			AND ($1 = '' OR t.lead_department_id = $1 OR $1 = ANY(t.area_ids))
		GROUP BY g.unit ORDER BY 4 DESC, 3 DESC, 2 DESC, 1`, unit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (BoardRow, error) {
		var r BoardRow
		err := row.Scan(&r.Unit, &r.Level1, &r.Level2, &r.Level3)
		return r, err
	})
}

// BoardRow counts one unit's open tickets by escalation level.
type BoardRow struct {
	Unit                   string
	Level1, Level2, Level3 int64
}

// CategoryCounts returns the reports per matter of a unit over days from..to.
func (s *store) CategoryCounts(ctx context.Context, unit, from, to string) (map[string]int64, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT category, sum(n)::bigint FROM categories
		WHERE unit_id = $1 AND day BETWEEN $2 AND $3 GROUP BY category`, unit, from, to)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	var c string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&c, &n}, func() error { out[c] = n; return nil })
	return out, err
}

// The advisory locks of a rebuild, per schema: gateLock is taken shared by
// each live projection transaction and exclusively by a rebuild for its
// whole run; rebuildLock keeps rebuilds one at a time.
const (
	gateLock    = `hashtext('whistle.monitoring.gate:' || current_schema())`
	rebuildLock = `hashtext('whistle.monitoring.rebuild:' || current_schema())`
)

// Enter takes the gate shared for the transaction ctx carries; it fails at
// once with errGateClosed while a rebuild holds or waits for the gate.
func (s *store) Enter(ctx context.Context) error {
	var ok bool
	if err := s.db.Q(ctx).QueryRow(ctx, `SELECT pg_try_advisory_xact_lock_shared(`+gateLock+`)`).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return errGateClosed
	}
	return nil
}

// Exclusive runs fn holding the rebuild lock and the gate, on a connection
// of its own (the locks go with the connection should the process die). It
// fails with ErrRebuilding if another rebuild runs, and otherwise waits for
// the live projection transactions in flight to end.
func (s *store) Exclusive(ctx context.Context, fn func(ctx context.Context) error) error {
	conn, err := s.db.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+rebuildLock+`)`).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return ErrRebuilding
	}
	unlock := context.WithoutCancel(ctx)
	defer func() { _, _ = conn.Exec(unlock, `SELECT pg_advisory_unlock(`+rebuildLock+`)`) }()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+gateLock+`)`); err != nil {
		return err
	}
	defer func() { _, _ = conn.Exec(unlock, `SELECT pg_advisory_unlock(`+gateLock+`)`) }()
	return fn(ctx)
}

// Reset empties every read model and the consumer's inbox, for a rebuild.
func (s *store) Reset(ctx context.Context, consumer string) error {
	return s.db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `TRUNCATE tickets, timeline, status_counts, scores, stage_times, scores_monthly, stage_times_monthly, units, live,
			categories, recent_reports`); err != nil {
			return err
		}
		// A scan hot spot is what the scan found at a moment, not a projection
		// of the stream: it stays (the count rules fire again as the stream replays).
		if _, err := tx.Exec(ctx, `DELETE FROM hot_spots WHERE rule <> 'scan'`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM inbox WHERE consumer = $1`, consumer)
		return err
	})
}
