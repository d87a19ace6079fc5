package monitoring

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/postgres"
)

// LockStates reads and locks the states of tickets (in ticket order, so two
// batches lock in one order), in the transaction ctx carries. A ticket not
// projected yet has no entry (its zero state).
func (s *store) LockStates(ctx context.Context, ids []string) (map[string]State, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT `+stateColumns+` FROM tickets WHERE ticket_id = ANY($1::uuid[])
		ORDER BY ticket_id FOR UPDATE`, ids)
	if err != nil {
		return nil, fmt.Errorf("lock %d tickets: %w", len(ids), err)
	}
	list, err := pgx.CollectRows(rows, fromStateRow)
	if err != nil {
		return nil, fmt.Errorf("lock %d tickets: %w", len(ids), err)
	}
	out := make(map[string]State, len(ids))
	for _, st := range list {
		out[st.TicketID] = st
	}
	return out, nil
}

// LockPlaces takes the hot spot rules' locks of places (see hotSpotPlace),
// in the order given, until the transaction ctx carries ends.
func (s *store) LockPlaces(ctx context.Context, places []string) error {
	if len(places) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, p := range places {
		b.Queue(placeLock, p)
	}
	return s.db.Q(ctx).SendBatch(ctx, b).Close()
}

// placeLock holds a hot spot place (matter and district) until commit.
const placeLock = `SELECT pg_advisory_xact_lock(hashtextextended('monitoring.hot_spot:' || $1, 0))`

// stateRow is a ticket's state as the tickets table holds it.
type stateRow struct {
	TicketID         string          `json:"ticket_id"`
	Number           string          `json:"ticket_number"`
	Status           int16           `json:"status"`
	Version          int64           `json:"version"`
	EscalationLevel  int32           `json:"escalation_level"`
	LeadDepartmentID string          `json:"lead_department_id"`
	Category         string          `json:"category"`
	ReworkCount      int32           `json:"rework_count"`
	Synthetic        bool            `json:"synthetic"`
	ReportedAt       *time.Time      `json:"reported_at"`
	UpdatedAt        time.Time       `json:"updated_at"`
	TraceID          string          `json:"trace_id"`
	Area             []string        `json:"area_ids"`
	Overdue          bool            `json:"overdue"`
	OverdueStage     string          `json:"overdue_stage"`
	StageDue         *time.Time      `json:"stage_due"`
	Memory           json.RawMessage `json:"memory"`
}

// SaveSet writes what a batch of events changed, in the transaction ctx
// carries: the timeline entries (one insert), the changed tickets' states (one
// upsert), and the status counts and figures (one upsert a table, summed per
// row and written in key order, so concurrent batches lock rows in one order).
func (s *store) SaveSet(ctx context.Context, w *setWrite, states map[string]State) error {
	if len(w.entries) == 0 {
		return nil
	}
	q := s.db.Q(ctx)
	rows := make([]stateRow, 0, len(w.changed))
	for _, id := range w.changed {
		row, err := toStateRow(states[id])
		if err != nil {
			return err
		}
		rows = append(rows, row)
	}
	doc, err := json.Marshal(rows)
	if err != nil {
		return err
	}
	b := &pgx.Batch{}
	queueTimeline(b, w.entries)
	b.Queue(`INSERT INTO tickets (`+stateColumns+`) SELECT `+stateColumns+`
		FROM jsonb_populate_recordset(NULL::tickets, $1) ORDER BY ticket_id
		ON CONFLICT (ticket_id) DO UPDATE SET ticket_number = EXCLUDED.ticket_number, status = EXCLUDED.status,
			version = EXCLUDED.version, escalation_level = EXCLUDED.escalation_level,
			lead_department_id = EXCLUDED.lead_department_id, category = EXCLUDED.category,
			rework_count = EXCLUDED.rework_count, synthetic = EXCLUDED.synthetic, reported_at = EXCLUDED.reported_at,
			updated_at = EXCLUDED.updated_at, area_ids = EXCLUDED.area_ids, overdue = EXCLUDED.overdue,
			overdue_stage = EXCLUDED.overdue_stage, stage_due = EXCLUDED.stage_due, memory = EXCLUDED.memory`, doc)
	queueStatus(b, w.status)
	if err := queueFigures(b, w.effects); err != nil {
		return err
	}
	if err := q.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("save %d tickets and their figures: %w", len(rows), err)
	}
	return nil
}

// queueTimeline adds the statement that records a batch's timeline entries.
func queueTimeline(b *pgx.Batch, entries []setEntry) {
	n := len(entries)
	ticketID, eventID, typ, version, transition := make([]string, n), make([]string, n), make([]string, n), make([]int64, n), make([]bool, n)
	at, actor, org, name, producer := make([]time.Time, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	traceID, status, summary := make([]string, n), make([]int16, n), make([]string, n)
	for i, e := range entries {
		ticketID[i], eventID[i], typ[i], version[i], transition[i] = e.ticketID, e.EventID, e.EventType, e.Version, e.Transition
		at[i], actor[i], org[i], name[i], producer[i] = e.OccurredAt, e.ActorID, e.ActorOrg, e.ActorName, e.Producer
		traceID[i], status[i], summary[i] = e.TraceID, int16(e.Status), e.Summary
	}
	b.Queue(`INSERT INTO timeline (ticket_id, `+entryColumns+`)
		SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bigint[], $5::bool[], $6::timestamptz[], $7::text[],
			$8::text[], $9::text[], $10::text[], $11::text[], $12::smallint[], $13::text[])`,
		ticketID, eventID, typ, version, transition, at, actor, org, name, producer, traceID, status, summary)
}

func toStateRow(st State) (stateRow, error) {
	memory, err := json.Marshal(st.M)
	if err != nil {
		return stateRow{}, err
	}
	area := st.Area
	if area == nil {
		area = []string{}
	}
	return stateRow{TicketID: st.TicketID, Number: st.Number, Status: int16(st.Status), Version: st.Version,
		EscalationLevel: st.EscalationLevel, LeadDepartmentID: st.LeadDepartmentID, Category: st.Category,
		ReworkCount: st.ReworkCount, Synthetic: st.Synthetic, ReportedAt: micros(st.ReportedAt),
		UpdatedAt: st.UpdatedAt.Truncate(time.Microsecond), TraceID: st.TraceID, Area: area, Overdue: st.Overdue,
		OverdueStage: st.OverdueStage, StageDue: micros(st.StageDue), Memory: memory}, nil
}

// micros is a nullable time cut to PostgreSQL's microseconds, as pgx sends it.
func micros(t time.Time) *time.Time {
	return postgres.NullTime(t.Truncate(time.Microsecond))
}

// statusShards is how many shards each status count is kept in (see the
// migration 00003_status_counts_shards.sql); a transaction adds to one at
// random.
const statusShards = 8

// queueStatus adds the statement that moves tickets between status counts.
func queueStatus(b *pgx.Batch, deltas []statusDelta) {
	if len(deltas) == 0 {
		return
	}
	var status []int16
	var synthetic []bool
	var n []int64
	for _, d := range deltas {
		status, synthetic, n = append(status, int16(d.status)), append(synthetic, d.synthetic), append(n, d.n)
	}
	b.Queue(`INSERT INTO status_counts (status, synthetic, shard, n)
		SELECT s, y, $4, sum(d) FROM unnest($1::smallint[], $2::bool[], $3::bigint[]) AS u(s, y, d)
		GROUP BY s, y ORDER BY s, y
		ON CONFLICT (status, synthetic, shard) DO UPDATE SET n = status_counts.n + EXCLUDED.n`,
		status, synthetic, n, rand.N[int16](statusShards))
}
