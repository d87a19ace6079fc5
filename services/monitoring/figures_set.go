package monitoring

import (
	"encoding/json"

	"github.com/jackc/pgx/v5"
)

// queueFigures adds the statements that apply a batch's effects on the
// figures: one a table, each row's changes summed and the rows written in
// key order (see SaveSet).
func queueFigures(b *pgx.Batch, eff Effects) error {
	if len(eff.Units) > 0 {
		units, err := json.Marshal(unitRows(eff.Units))
		if err != nil {
			return err
		}
		b.Queue(`INSERT INTO units (unit_id, kind, path)
			SELECT DISTINCT ON (unit_id) unit_id, kind, path FROM jsonb_populate_recordset(NULL::units, $1)
			ORDER BY unit_id ON CONFLICT DO NOTHING`, units)
	}
	if len(eff.Counts) > 0 {
		unit, day, fact, n := countColumns(eff.Counts)
		b.Queue(`INSERT INTO scores (unit_id, day, fact, n)
			SELECT u, d::date, f, sum(n) FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS c(u, d, f, n)
			GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
			ON CONFLICT (unit_id, day, fact) DO UPDATE SET n = scores.n + EXCLUDED.n`, unit, day, fact, n)
		b.Queue(`INSERT INTO scores_monthly (unit_id, month, fact, n)
			SELECT u, date_trunc('month', d::date)::date, f, sum(n)
			FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS c(u, d, f, n)
			GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
			ON CONFLICT (unit_id, month, fact) DO UPDATE SET n = scores_monthly.n + EXCLUDED.n`, unit, day, fact, n)
	}
	if len(eff.Samples) > 0 {
		var unit, day, stage []string
		var bucket []int16
		var seconds []int64
		for _, sm := range eff.Samples {
			unit, day, stage = append(unit, sm.Unit), append(day, sm.Day), append(stage, sm.Stage)
			bucket, seconds = append(bucket, int16(bucketOf(sm.Took))), append(seconds, int64(sm.Took.Seconds()))
		}
		b.Queue(`INSERT INTO stage_times (unit_id, day, stage, bucket, n, seconds)
			SELECT u, d::date, s, k, count(*), sum(secs)
			FROM unnest($1::text[], $2::text[], $3::text[], $4::smallint[], $5::bigint[]) AS t(u, d, s, k, secs)
			GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
			ON CONFLICT (unit_id, day, stage, bucket) DO UPDATE SET n = stage_times.n + EXCLUDED.n,
				seconds = stage_times.seconds + EXCLUDED.seconds`, unit, day, stage, bucket, seconds)
		b.Queue(`INSERT INTO stage_times_monthly (unit_id, month, stage, bucket, n, seconds)
			SELECT u, date_trunc('month', d::date)::date, s, k, count(*), sum(secs)
			FROM unnest($1::text[], $2::text[], $3::text[], $4::smallint[], $5::bigint[]) AS t(u, d, s, k, secs)
			GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
			ON CONFLICT (unit_id, month, stage, bucket) DO UPDATE SET n = stage_times_monthly.n + EXCLUDED.n,
				seconds = stage_times_monthly.seconds + EXCLUDED.seconds`, unit, day, stage, bucket, seconds)
	}
	if len(eff.Live) > 0 {
		var unit []string
		var open, overdue []int64
		for _, l := range eff.Live {
			unit, open, overdue = append(unit, l.Unit), append(open, l.Open), append(overdue, l.Overdue)
		}
		b.Queue(`INSERT INTO live (unit_id, open, overdue)
			SELECT u, sum(o), sum(v) FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS l(u, o, v)
			GROUP BY 1 ORDER BY 1
			ON CONFLICT (unit_id) DO UPDATE SET open = live.open + EXCLUDED.open, overdue = live.overdue + EXCLUDED.overdue`,
			unit, open, overdue)
	}
	if len(eff.Categories) > 0 {
		unit, day, category, n := countColumns(eff.Categories)
		b.Queue(`INSERT INTO categories (unit_id, category, day, n)
			SELECT u, c, d::date, sum(n) FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS t(u, d, c, n)
			GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
			ON CONFLICT (unit_id, category, day) DO UPDATE SET n = categories.n + EXCLUDED.n`, unit, day, category, n)
	}
	return nil
}

// countColumns turns counts into columns: unit, day, fact, n.
func countColumns(cs []Count) (unit, day, fact []string, n []int64) {
	for _, c := range cs {
		unit, day, fact, n = append(unit, c.Unit), append(day, c.Day), append(fact, c.Fact), append(n, c.N)
	}
	return unit, day, fact, n
}

type unitRow struct {
	ID   string   `json:"unit_id"`
	Kind string   `json:"kind"`
	Path []string `json:"path"`
}

func unitRows(us []Unit) []unitRow {
	out := make([]unitRow, len(us))
	for i, u := range us {
		path := u.Path
		if path == nil {
			path = []string{}
		}
		out[i] = unitRow{u.ID, u.Kind, path}
	}
	return out
}
