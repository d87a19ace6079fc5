package evaluation

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/outbox"
	"github.com/whistle-civic/whistle/pkg/postgres"
)

// LockLatest reads and locks the latest rounds of tickets, in ticket order,
// in the transaction ctx carries; tickets without one are absent.
func (s *store) LockLatest(ctx context.Context, ids []string) (map[string]*Evaluation, error) {
	out := make(map[string]*Evaluation, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT `+roundColumns+fromRounds+`
		WHERE (e.ticket_id, e.round) IN (SELECT ticket_id, max(round) FROM evaluations WHERE ticket_id = ANY($1::uuid[]) GROUP BY ticket_id)
		ORDER BY e.ticket_id FOR UPDATE OF e`, ids)
	if err != nil {
		return nil, fmt.Errorf("lock the latest rounds of %d tickets: %w", len(ids), err)
	}
	list, err := pgx.CollectRows(rows, fromRow)
	if err != nil {
		return nil, fmt.Errorf("lock the latest rounds of %d tickets: %w", len(ids), err)
	}
	for i := range list {
		out[list[i].TicketID] = &list[i]
	}
	return out, nil
}

// SaveSet writes what a batch changed in the transaction ctx carries, one
// statement for each kind of row: reporters, areas, code states (each in
// ticket order), rounds, and the events announcing them.
func (s *store) SaveSet(ctx context.Context, w batchWrite) error {
	b := &pgx.Batch{}
	if ids := slices.Sorted(maps.Keys(w.reporters)); len(ids) > 0 {
		orgs := make([]string, len(ids))
		for i, id := range ids {
			orgs[i] = w.reporters[id]
		}
		b.Queue(`INSERT INTO tickets (ticket_id, org_unit_id) SELECT * FROM unnest($1::uuid[], $2::text[])
			ON CONFLICT (ticket_id) DO UPDATE SET org_unit_id = EXCLUDED.org_unit_id`, ids, orgs)
	}
	if ids := slices.Sorted(maps.Keys(w.areas)); len(ids) > 0 {
		areas := make([]string, len(ids)) // each a JSON array: unnest takes no array of arrays of other lengths
		for i, id := range ids {
			a, err := json.Marshal(postgres.Texts(w.areas[id]))
			if err != nil {
				return err
			}
			areas[i] = string(a)
		}
		b.Queue(`INSERT INTO tickets (ticket_id, area_ids)
			SELECT id, ARRAY(SELECT jsonb_array_elements_text(a)) FROM unnest($1::uuid[], $2::jsonb[]) AS u(id, a)
			ON CONFLICT (ticket_id) DO UPDATE SET area_ids = EXCLUDED.area_ids`, ids, areas)
	}
	if ids := slices.Sorted(maps.Keys(w.merges)); len(ids) > 0 {
		into := make([]string, len(ids))
		for i, id := range ids {
			into[i] = w.merges[id]
		}
		b.Queue(`INSERT INTO tickets (ticket_id, merged_into) SELECT * FROM unnest($1::uuid[], $2::uuid[])
			ON CONFLICT (ticket_id) DO UPDATE SET merged_into = EXCLUDED.merged_into`, ids, into)
	}
	if ids := slices.Sorted(maps.Keys(w.codes)); len(ids) > 0 {
		failures, used := make([]int32, len(ids)), make([]int32, len(ids))
		for i, id := range ids {
			failures[i], used[i] = w.codes[id].CodeFailures, w.codes[id].CodeUsedRound
		}
		b.Queue(`INSERT INTO tickets (ticket_id, code_failures, code_used_round) SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[])
			ON CONFLICT (ticket_id) DO UPDATE SET code_failures = EXCLUDED.code_failures, code_used_round = EXCLUDED.code_used_round`,
			ids, failures, used)
	}
	if len(w.rounds) > 0 {
		rows := make([]roundRow, len(w.rounds))
		for i, e := range w.rounds {
			rows[i] = toRoundRow(e)
		}
		doc, err := json.Marshal(rows)
		if err != nil {
			return err
		}
		b.Queue(`INSERT INTO evaluations (`+savedColumns+`) SELECT `+savedColumns+`
			FROM jsonb_populate_recordset(NULL::evaluations, $1) ORDER BY ticket_id, round
			ON CONFLICT (ticket_id, round) DO UPDATE SET state = EXCLUDED.state, version = EXCLUDED.version,
				verdict = EXCLUDED.verdict, comment = EXCLUDED.comment, reason_codes = EXCLUDED.reason_codes,
				evaluator_id = EXCLUDED.evaluator_id, evaluator_org_unit_id = EXCLUDED.evaluator_org_unit_id,
				evaluator_name = EXCLUDED.evaluator_name, evaluated_at = EXCLUDED.evaluated_at, source = EXCLUDED.source,
				default_verdict = EXCLUDED.default_verdict`, doc)
	}
	if b.Len() > 0 {
		if err := s.db.Q(ctx).SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("save %d rounds, %d reporters, %d areas: %w", len(w.rounds), len(w.reporters), len(w.areas), err)
		}
	}
	return outbox.AppendSet(ctx, s.db.Q(ctx), w.events)
}

// savedColumns are the columns of a round that save writes.
const savedColumns = `ticket_id, ticket_number, round, state, version, department_id, result, opened_at, verdict, comment,
	reason_codes, evaluator_id, evaluator_org_unit_id, evaluator_name, evaluated_at, synthetic, trace_parent, source,
	default_verdict, due_at`

// roundRow is a round as a row of the evaluations table, in the JSON
// jsonb_populate_recordset reads.
type roundRow struct {
	TicketID       string     `json:"ticket_id"`
	Number         string     `json:"ticket_number"`
	Round          int32      `json:"round"`
	State          int16      `json:"state"`
	Version        int64      `json:"version"`
	DepartmentID   string     `json:"department_id"`
	Result         string     `json:"result"`
	OpenedAt       time.Time  `json:"opened_at"`
	Verdict        int16      `json:"verdict"`
	Comment        string     `json:"comment"`
	ReasonCodes    []string   `json:"reason_codes"`
	EvaluatorID    string     `json:"evaluator_id"`
	EvaluatorOrg   string     `json:"evaluator_org_unit_id"`
	EvaluatorName  string     `json:"evaluator_name"`
	EvaluatedAt    *time.Time `json:"evaluated_at"`
	Synthetic      bool       `json:"synthetic"`
	TraceParent    string     `json:"trace_parent"`
	Source         int16      `json:"source"`
	DefaultVerdict bool       `json:"default_verdict"`
	DueAt          *time.Time `json:"due_at"`
}

func toRoundRow(e Evaluation) roundRow {
	return roundRow{TicketID: e.TicketID, Number: e.Number, Round: e.Round, State: int16(e.State), Version: e.Version,
		DepartmentID: e.DepartmentID, Result: e.Result, OpenedAt: e.OpenedAt, Verdict: int16(e.Verdict), Comment: e.Comment,
		ReasonCodes: postgres.Texts(e.ReasonCodes), EvaluatorID: e.Evaluator.ID, EvaluatorOrg: e.Evaluator.OrgUnitID,
		EvaluatorName: e.Evaluator.Name, EvaluatedAt: postgres.NullTime(e.EvaluatedAt), Synthetic: e.Synthetic,
		TraceParent: e.TraceParent, Source: int16(e.Source), DefaultVerdict: e.DefaultVerdict, DueAt: postgres.NullTime(e.DueAt)}
}
