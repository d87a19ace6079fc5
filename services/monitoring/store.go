package monitoring

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// store keeps the read models in the monitoring schema.
type store struct {
	db *postgres.DB
}

const stateColumns = `ticket_id, ticket_number, status, version, escalation_level, lead_department_id, category,
	rework_count, synthetic, reported_at, updated_at, trace_id, area_ids, overdue, overdue_stage, stage_due, memory`

const entryColumns = `event_id, event_type, version, transition, occurred_at, actor_id, actor_org_unit_id,
	actor_name, producer, trace_id, status, summary`

// Update locks a ticket's state (zero if none), lets fn change it, and when fn
// returns an entry, records the entry in the timeline, saves the state and
// applies the effects on the figures — all in one transaction.
func (s *store) Update(ctx context.Context, ticketID string, fn func(st *State) (*Entry, Effects, error)) error {
	return s.db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		st, err := getState(ctx, tx, ticketID, " FOR UPDATE")
		if errors.Is(err, ErrNotFound) {
			st, err = State{}, nil
		}
		if err != nil {
			return err
		}
		before := st
		e, eff, err := fn(&st)
		if err != nil || e == nil {
			return err
		}
		memory, err := json.Marshal(st.M)
		if err != nil {
			return err
		}
		if st.Area == nil {
			st.Area = []string{}
		}
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO timeline (ticket_id, `+entryColumns+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`,
			ticketID, e.EventID, e.EventType, e.Version, e.Transition, e.OccurredAt, e.ActorID, e.ActorOrg, e.ActorName,
			e.Producer, e.TraceID, e.Status, e.Summary)
		b.Queue(`INSERT INTO tickets (`+stateColumns+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)
			ON CONFLICT (ticket_id) DO UPDATE SET ticket_number = $2, status = $3, version = $4, escalation_level = $5,
				lead_department_id = $6, category = $7, rework_count = $8, synthetic = $9, reported_at = $10,
				updated_at = $11, area_ids = $13, overdue = $14, overdue_stage = $15, stage_due = $16, memory = $17`,
			ticketID, st.Number, st.Status, st.Version, st.EscalationLevel, st.LeadDepartmentID, st.Category,
			st.ReworkCount, st.Synthetic, postgres.NullTime(st.ReportedAt), st.UpdatedAt, st.TraceID, st.Area,
			st.Overdue, st.OverdueStage, postgres.NullTime(st.StageDue), memory)
		if before.Status != st.Status {
			if before.Status != ticket.StatusUnknown {
				queueStatus(b, []statusDelta{{before.Status, before.Synthetic, -1}})
			}
			queueStatus(b, []statusDelta{{st.Status, st.Synthetic, 1}})
		}
		queueEffects(b, eff)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("record %s of %s: %w", e.EventType, ticketID, err)
		}
		return nil
	})
}

// queueEffects adds the statements that apply effects on the figures.
func queueEffects(b *pgx.Batch, eff Effects) {
	for _, u := range eff.Units {
		b.Queue(`INSERT INTO units (unit_id, kind, path) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, u.ID, u.Kind, u.Path)
	}
	for _, c := range eff.Counts {
		b.Queue(`INSERT INTO scores (unit_id, day, fact, n) VALUES ($1, $2, $3, $4)
			ON CONFLICT (unit_id, day, fact) DO UPDATE SET n = scores.n + $4`, c.Unit, c.Day, c.Fact, c.N)
		b.Queue(`INSERT INTO scores_monthly (unit_id, month, fact, n) VALUES ($1, date_trunc('month', $2::date), $3, $4)
			ON CONFLICT (unit_id, month, fact) DO UPDATE SET n = scores_monthly.n + $4`, c.Unit, c.Day, c.Fact, c.N)
	}
	for _, sm := range eff.Samples {
		b.Queue(`INSERT INTO stage_times (unit_id, day, stage, bucket, n, seconds) VALUES ($1, $2, $3, $4, 1, $5)
			ON CONFLICT (unit_id, day, stage, bucket) DO UPDATE SET n = stage_times.n + 1, seconds = stage_times.seconds + $5`,
			sm.Unit, sm.Day, sm.Stage, bucketOf(sm.Took), int64(sm.Took.Seconds()))
		b.Queue(`INSERT INTO stage_times_monthly (unit_id, month, stage, bucket, n, seconds)
			VALUES ($1, date_trunc('month', $2::date), $3, $4, 1, $5)
			ON CONFLICT (unit_id, month, stage, bucket) DO UPDATE SET n = stage_times_monthly.n + 1,
				seconds = stage_times_monthly.seconds + $5`,
			sm.Unit, sm.Day, sm.Stage, bucketOf(sm.Took), int64(sm.Took.Seconds()))
	}
	for _, l := range eff.Live {
		b.Queue(`INSERT INTO live (unit_id, open, overdue) VALUES ($1, $2, $3)
			ON CONFLICT (unit_id) DO UPDATE SET open = live.open + $2, overdue = live.overdue + $3`, l.Unit, l.Open, l.Overdue)
	}
	for _, c := range eff.Categories {
		b.Queue(`INSERT INTO categories (unit_id, category, day, n) VALUES ($1, $2, $3, $4)
			ON CONFLICT (unit_id, category, day) DO UPDATE SET n = categories.n + $4`, c.Unit, c.Fact, c.Day, c.N)
	}
}

// Timeline returns a ticket's state and entries in order: by version, the
// transition that produced a version before what happened at it.
func (s *store) Timeline(ctx context.Context, ticketID string) (State, []Entry, error) {
	q := s.db.Q(ctx)
	st, err := getState(ctx, q, ticketID, "")
	if err != nil {
		return State{}, nil, err
	}
	rows, err := q.Query(ctx, `SELECT `+entryColumns+` FROM timeline WHERE ticket_id = $1
		ORDER BY version, transition DESC, occurred_at, event_id`, ticketID)
	if err != nil {
		return State{}, nil, err
	}
	entries, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Entry, error) {
		var e Entry
		err := row.Scan(&e.EventID, &e.EventType, &e.Version, &e.Transition, &e.OccurredAt, &e.ActorID, &e.ActorOrg,
			&e.ActorName, &e.Producer, &e.TraceID, &e.Status, &e.Summary)
		e.OccurredAt = e.OccurredAt.UTC()
		return e, err
	})
	return st, entries, err
}

// Duplicates returns the tickets merged into ticketID, oldest first.
func (s *store) Duplicates(ctx context.Context, ticketID string) ([]Duplicate, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT ticket_id::text, ticket_number FROM tickets
		WHERE memory ? 'merged_into' AND memory->>'merged_into' = $1 ORDER BY ticket_id`, ticketID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Duplicate, error) {
		var d Duplicate
		err := row.Scan(&d.TicketID, &d.Number)
		return d, err
	})
}

// Counts returns the live counts per status (statuses with none left out).
func (s *store) Counts(ctx context.Context, includeSynthetic bool) (map[ticket.Status]int64, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT status, sum(n)::bigint FROM status_counts
		WHERE NOT synthetic OR $1 GROUP BY status`, includeSynthetic)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[ticket.Status]int64{}
	for rows.Next() {
		var st ticket.Status
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		if n != 0 {
			out[st] = n
		}
	}
	return out, rows.Err()
}

func getState(ctx context.Context, q postgres.Querier, ticketID, lock string) (State, error) {
	rows, err := q.Query(ctx, `SELECT `+stateColumns+` FROM tickets WHERE ticket_id = $1`+lock, ticketID)
	if err != nil {
		return State{}, err
	}
	st, err := pgx.CollectExactlyOneRow(rows, fromStateRow)
	if errors.Is(err, pgx.ErrNoRows) {
		return State{}, ErrNotFound
	}
	return st, err
}

func fromStateRow(row pgx.CollectableRow) (State, error) {
	var st State
	var reported, stageDue *time.Time
	var memory []byte
	err := row.Scan(&st.TicketID, &st.Number, &st.Status, &st.Version, &st.EscalationLevel, &st.LeadDepartmentID,
		&st.Category, &st.ReworkCount, &st.Synthetic, &reported, &st.UpdatedAt, &st.TraceID, &st.Area, &st.Overdue,
		&st.OverdueStage, &stageDue, &memory)
	if err != nil {
		return st, err
	}
	st.ReportedAt, st.StageDue, st.UpdatedAt = postgres.TimeOf(reported), postgres.TimeOf(stageDue), st.UpdatedAt.UTC()
	return st, json.Unmarshal(memory, &st.M)
}
