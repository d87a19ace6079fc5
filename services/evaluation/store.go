package evaluation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/outbox"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// store keeps evaluation rounds in the evaluation schema.
type store struct {
	db *postgres.DB
}

const roundColumns = `e.ticket_id, e.ticket_number, e.round, e.state, e.version, e.department_id, e.result,
	e.opened_at, e.verdict, e.comment, e.reason_codes, e.evaluator_id, e.evaluator_org_unit_id, e.evaluator_name,
	e.evaluated_at, e.synthetic, e.trace_parent, e.source, e.default_verdict, e.due_at,
	coalesce(r.org_unit_id, ''), coalesce(r.area_ids, '{}'), coalesce(r.code_failures, 0), coalesce(r.code_used_round, 0)`

const fromRounds = ` FROM evaluations e LEFT JOIN tickets r ON r.ticket_id = e.ticket_id`

// Update locks a ticket's latest round (a zero Evaluation if there is none),
// lets fn change it, and saves it with the events announcing the action fn
// returns ("" for none), in the transaction ctx carries or a new one. A round
// whose Round grew is inserted as a new row.
func (s *store) Update(ctx context.Context, ticketID string, fn func(e *Evaluation) (ticket.Action, error)) error {
	return s.db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		e, err := s.latest(ctx, tx, ticketID, " FOR UPDATE OF e")
		if errors.Is(err, ErrNotFound) {
			e, err = Evaluation{TicketID: ticketID}, nil
		}
		if err != nil {
			return err
		}
		return apply(ctx, tx, &e, fn)
	})
}

// apply runs fn on a locked round and saves what changed with its events.
func apply(ctx context.Context, tx pgx.Tx, e *Evaluation, fn func(e *Evaluation) (ticket.Action, error)) error {
	before, failures, used := e.Version, e.CodeFailures, e.CodeUsedRound
	action, err := fn(e)
	if err != nil {
		return err
	}
	if e.CodeFailures != failures || e.CodeUsedRound != used {
		if err := saveCode(ctx, tx, *e); err != nil {
			return err
		}
	}
	if e.Version == before {
		return nil
	}
	if err := save(ctx, tx, *e); err != nil {
		return err
	}
	return outbox.Append(ctx, tx, toEvents(*e, action)...)
}

// Get returns a ticket's latest round.
func (s *store) Get(ctx context.Context, ticketID string) (Evaluation, error) {
	return s.latest(ctx, s.db.Q(ctx), ticketID, "")
}

// TraceParent returns the ticket's trace, or "".
func (s *store) TraceParent(ctx context.Context, ticketID string) string {
	var tp string
	_ = s.db.Q(ctx).QueryRow(ctx, `SELECT trace_parent FROM evaluations WHERE ticket_id = $1
		ORDER BY round DESC LIMIT 1`, ticketID).Scan(&tp)
	return tp
}

func (s *store) latest(ctx context.Context, q postgres.Querier, ticketID, lock string) (Evaluation, error) {
	rows, err := q.Query(ctx, `SELECT `+roundColumns+fromRounds+` WHERE e.ticket_id = $1
		ORDER BY e.round DESC LIMIT 1`+lock, ticketID)
	if err != nil {
		return Evaluation{}, err
	}
	e, err := pgx.CollectExactlyOneRow(rows, fromRow)
	if errors.Is(err, pgx.ErrNoRows) {
		return Evaluation{}, ErrNotFound
	}
	return e, err
}

// ListOpen returns open rounds, oldest first.
func (s *store) ListOpen(ctx context.Context, f OpenFilter) ([]Evaluation, error) {
	sql := `SELECT ` + roundColumns + fromRounds + ` WHERE e.state = $1`
	args := []any{Open}
	if f.ReporterOrgUnitID != "" {
		args = append(args, f.ReporterOrgUnitID)
		sql += ` AND r.org_unit_id = $` + strconv.Itoa(len(args))
	}
	if f.Within != "" {
		args = append(args, f.Within)
		sql += fmt.Sprintf(` AND ($%d = ANY(r.area_ids) OR r.org_unit_id = $%d)`, len(args), len(args))
	}
	if f.After.TicketID != "" {
		args = append(args, f.After.OpenedAt, f.After.TicketID)
		sql += fmt.Sprintf(` AND (e.opened_at, e.ticket_id) > ($%d, $%d)`, len(args)-1, len(args))
	}
	args = append(args, f.Limit)
	sql += ` ORDER BY e.opened_at, e.ticket_id LIMIT $` + strconv.Itoa(len(args))
	rows, err := s.db.Q(ctx).Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, fromRow)
}

// SaveReporter records who reported a ticket.
func (s *store) SaveReporter(ctx context.Context, ticketID, orgUnitID string) error {
	_, err := s.db.Q(ctx).Exec(ctx, `INSERT INTO tickets (ticket_id, org_unit_id) VALUES ($1, $2)
		ON CONFLICT (ticket_id) DO UPDATE SET org_unit_id = $2`, ticketID, orgUnitID)
	return err
}

// saveCode records the wrong codes tried on a ticket and the round its code
// last gave the verdict of.
func saveCode(ctx context.Context, tx pgx.Tx, e Evaluation) error {
	_, err := tx.Exec(ctx, `INSERT INTO tickets (ticket_id, code_failures, code_used_round) VALUES ($1, $2, $3)
		ON CONFLICT (ticket_id) DO UPDATE SET code_failures = $2, code_used_round = $3`, e.TicketID, e.CodeFailures, e.CodeUsedRound)
	if err != nil {
		return fmt.Errorf("save evaluation code state of %s: %w", e.TicketID, err)
	}
	return nil
}

// SaveMergedInto records that a duplicate was merged into its original.
func (s *store) SaveMergedInto(ctx context.Context, ticketID, originalID string) error {
	_, err := s.db.Q(ctx).Exec(ctx, `INSERT INTO tickets (ticket_id, merged_into) VALUES ($1, $2)
		ON CONFLICT (ticket_id) DO UPDATE SET merged_into = $2`, ticketID, originalID)
	return err
}

// MergedInto returns the original a duplicate was merged into ("" for none).
func (s *store) MergedInto(ctx context.Context, ticketID string) (string, error) {
	var into *string
	err := s.db.Q(ctx).QueryRow(ctx, `SELECT merged_into::text FROM tickets WHERE ticket_id = $1`, ticketID).Scan(&into)
	if errors.Is(err, pgx.ErrNoRows) || into == nil {
		return "", nil
	}
	return *into, err
}

// SaveArea records where a ticket lies.
func (s *store) SaveArea(ctx context.Context, ticketID string, area []string) error {
	if area == nil {
		area = []string{}
	}
	_, err := s.db.Q(ctx).Exec(ctx, `INSERT INTO tickets (ticket_id, area_ids) VALUES ($1, $2)
		ON CONFLICT (ticket_id) DO UPDATE SET area_ids = $2`, ticketID, area)
	return err
}

// EachDue applies fn to up to limit open rounds whose window closed by now,
// skipping rounds another replica holds, in one transaction.
func (s *store) EachDue(ctx context.Context, now time.Time, limit int, fn func(e *Evaluation) (ticket.Action, error)) (int, error) {
	n := 0
	err := s.db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+roundColumns+fromRounds+` WHERE e.state = $1 AND e.due_at <= $2
			ORDER BY e.due_at LIMIT $3 FOR UPDATE OF e SKIP LOCKED`, Open, now, limit)
		if err != nil {
			return err
		}
		due, err := pgx.CollectRows(rows, fromRow)
		if err != nil {
			return err
		}
		for i := range due {
			if err := apply(ctx, tx, &due[i], fn); err != nil {
				return fmt.Errorf("ticket %s: %w", due[i].TicketID, err)
			}
		}
		n = len(due)
		return nil
	})
	return n, err
}

func save(ctx context.Context, tx pgx.Tx, e Evaluation) error {
	if e.ReasonCodes == nil {
		e.ReasonCodes = []string{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO evaluations (ticket_id, ticket_number, round, state, version,
			department_id, result, opened_at, verdict, comment, reason_codes, evaluator_id, evaluator_org_unit_id,
			evaluator_name, evaluated_at, synthetic, trace_parent, source, default_verdict, due_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20)
		ON CONFLICT (ticket_id, round) DO UPDATE SET state = $4, version = $5, verdict = $9, comment = $10,
			reason_codes = $11, evaluator_id = $12, evaluator_org_unit_id = $13, evaluator_name = $14, evaluated_at = $15,
			source = $18, default_verdict = $19`,
		e.TicketID, e.Number, e.Round, e.State, e.Version, e.DepartmentID, e.Result, e.OpenedAt, e.Verdict,
		e.Comment, e.ReasonCodes, e.Evaluator.ID, e.Evaluator.OrgUnitID, e.Evaluator.Name,
		postgres.NullTime(e.EvaluatedAt), e.Synthetic, e.TraceParent, e.Source, e.DefaultVerdict, postgres.NullTime(e.DueAt))
	if err != nil {
		return fmt.Errorf("save evaluation of %s: %w", e.TicketID, err)
	}
	return nil
}

func fromRow(row pgx.CollectableRow) (Evaluation, error) {
	var e Evaluation
	var evaluatedAt, due *time.Time
	err := row.Scan(&e.TicketID, &e.Number, &e.Round, &e.State, &e.Version, &e.DepartmentID, &e.Result,
		&e.OpenedAt, &e.Verdict, &e.Comment, &e.ReasonCodes, &e.Evaluator.ID, &e.Evaluator.OrgUnitID,
		&e.Evaluator.Name, &evaluatedAt, &e.Synthetic, &e.TraceParent, &e.Source, &e.DefaultVerdict, &due,
		&e.ReporterOrgUnitID, &e.Area, &e.CodeFailures, &e.CodeUsedRound)
	e.OpenedAt, e.EvaluatedAt, e.DueAt = e.OpenedAt.UTC(), postgres.TimeOf(evaluatedAt), postgres.TimeOf(due)
	return e, err
}
