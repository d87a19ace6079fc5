package monitoring

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/outbox"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// CallBacks lists the drawn tickets with their recorded outcomes, with one
// statement.
func (s *store) CallBacks(ctx context.Context, unit string, pendingOnly bool, limit int) ([]CallBack, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT t.ticket_id::text, t.ticket_number, t.category, t.lead_department_id,
			(t.memory->>'closed_at')::timestamptz, cb.ticket_id IS NOT NULL, coalesce(cb.reached, false), coalesce(cb.verdict, 0)
		FROM tickets t LEFT JOIN call_backs cb ON cb.ticket_id = t.ticket_id
		WHERE t.memory ? 'call_back' AND NOT t.synthetic AND ($1 = '' OR t.lead_department_id = $1 OR $1 = ANY(t.area_ids))
			AND (NOT $2 OR cb.ticket_id IS NULL)
		ORDER BY cb.ticket_id IS NOT NULL, (t.memory->>'closed_at'), t.ticket_id LIMIT $3`, unit, pendingOnly, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (CallBack, error) {
		var c CallBack
		var verdict int16
		err := row.Scan(&c.TicketID, &c.Number, &c.Category, &c.LeadDepartmentID, &c.ClosedAt, &c.Done, &c.Reached, &verdict)
		c.ClosedAt, c.Verdict = c.ClosedAt.UTC(), ticket.Verdict(verdict)
		return c, err
	})
}

// LockState reads and locks a ticket's state.
func (s *store) LockState(ctx context.Context, tx pgx.Tx, ticketID string) (State, error) {
	return getState(ctx, tx, ticketID, " FOR UPDATE")
}

// RecordCallBack stores a call-back once and appends its event.
func (s *store) RecordCallBack(ctx context.Context, tx pgx.Tx, st State, in CallBackInput, at time.Time) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO call_backs (ticket_id, reached, verdict, note, recorded_by, recorded_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, st.TicketID, in.Reached, int16(in.Verdict), in.Note, in.By.ID, at)
	if err != nil || tag.RowsAffected() == 0 {
		return false, err
	}
	return true, outbox.Append(ctx, tx, toCalledBackEvent(st, in, at))
}
