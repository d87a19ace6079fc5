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
	e.evaluated_at, e.synthetic, e.trace_parent, coalesce(r.org_unit_id, '')`

const fromRounds = ` FROM evaluations e LEFT JOIN reporters r ON r.ticket_id = e.ticket_id`

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
		before := e.Version
		action, err := fn(&e)
		if err != nil || e.Version == before {
			return err
		}
		if err := save(ctx, tx, e); err != nil {
			return err
		}
		if action == "" {
			return nil
		}
		return outbox.Append(ctx, tx, toEvents(e, action)...)
	})
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
	_, err := s.db.Q(ctx).Exec(ctx, `INSERT INTO reporters (ticket_id, org_unit_id) VALUES ($1, $2)
		ON CONFLICT (ticket_id) DO NOTHING`, ticketID, orgUnitID)
	return err
}

func save(ctx context.Context, tx pgx.Tx, e Evaluation) error {
	if e.ReasonCodes == nil {
		e.ReasonCodes = []string{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO evaluations (ticket_id, ticket_number, round, state, version,
			department_id, result, opened_at, verdict, comment, reason_codes, evaluator_id, evaluator_org_unit_id,
			evaluator_name, evaluated_at, synthetic, trace_parent)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)
		ON CONFLICT (ticket_id, round) DO UPDATE SET state = $4, version = $5, verdict = $9, comment = $10,
			reason_codes = $11, evaluator_id = $12, evaluator_org_unit_id = $13, evaluator_name = $14, evaluated_at = $15`,
		e.TicketID, e.Number, e.Round, e.State, e.Version, e.DepartmentID, e.Result, e.OpenedAt, e.Verdict,
		e.Comment, e.ReasonCodes, e.Evaluator.ID, e.Evaluator.OrgUnitID, e.Evaluator.Name,
		postgres.NullTime(e.EvaluatedAt), e.Synthetic, e.TraceParent)
	if err != nil {
		return fmt.Errorf("save evaluation of %s: %w", e.TicketID, err)
	}
	return nil
}

func fromRow(row pgx.CollectableRow) (Evaluation, error) {
	var e Evaluation
	var evaluatedAt *time.Time
	err := row.Scan(&e.TicketID, &e.Number, &e.Round, &e.State, &e.Version, &e.DepartmentID, &e.Result,
		&e.OpenedAt, &e.Verdict, &e.Comment, &e.ReasonCodes, &e.Evaluator.ID, &e.Evaluator.OrgUnitID,
		&e.Evaluator.Name, &evaluatedAt, &e.Synthetic, &e.TraceParent, &e.ReporterOrgUnitID)
	e.OpenedAt, e.EvaluatedAt = e.OpenedAt.UTC(), postgres.TimeOf(evaluatedAt)
	return e, err
}
