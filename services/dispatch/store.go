package dispatch

import (
	"context"
	"errors"
	"fmt"
	"github.com/whistle-civic/whistle/pkg/calendar"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/outbox"
	"github.com/whistle-civic/whistle/pkg/postgres"
)

// store keeps assignments and catalogs in the dispatch schema.
type store struct {
	db *postgres.DB
}

const assignmentColumns = `ticket_id, ticket_number, status, version, category, grid_id, kind, synthetic,
	lead_department_id, assisting_department_ids, accept_due, resolve_due, catalog_version, rule,
	triage_org_unit_id, trace_parent, ticket, updated_at, owner_department_id, wall_clock, accept_within,
	resolve_within, paused_at, escalation_level, next_check, return_count, returners, binding, arbitration,
	extension_due, extension_reason, area_ids`

// Update locks the assignment of ticketID (a zero Assignment if there is
// none), lets fn change it, and saves it with the events announcing what fn
// returns, in the transaction ctx carries or a new one.
func (s *store) Update(ctx context.Context, ticketID string, fn func(a *Assignment) ([]Announcement, error)) error {
	return s.db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		a, err := s.get(ctx, tx, ticketID, " FOR UPDATE")
		if errors.Is(err, ErrNotFound) {
			a, err = Assignment{TicketID: ticketID}, nil
		}
		if err != nil {
			return err
		}
		return apply(ctx, tx, &a, fn)
	})
}

// apply runs fn on a locked assignment and saves what changed.
func apply(ctx context.Context, tx pgx.Tx, a *Assignment, fn func(a *Assignment) ([]Announcement, error)) error {
	anns, err := fn(a)
	if err != nil || !a.Dirty() {
		return err
	}
	if err := save(ctx, tx, *a); err != nil {
		return err
	}
	return outbox.Append(ctx, tx, toEvents(*a, anns)...)
}

// EachDue applies fn to up to limit assignments due for a check by now,
// skipping rows another replica holds, in one transaction.
func (s *store) EachDue(ctx context.Context, now time.Time, limit int, fn func(a *Assignment) ([]Announcement, error)) (int, error) {
	n := 0
	err := s.db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+assignmentColumns+` FROM assignments
			WHERE next_check <= $1 ORDER BY next_check LIMIT $2 FOR UPDATE SKIP LOCKED`, now, limit)
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

// Get returns the assignment of a ticket.
func (s *store) Get(ctx context.Context, ticketID string) (Assignment, error) {
	return s.get(ctx, s.db.Q(ctx), ticketID, "")
}

// ListTriage returns tickets in triage at any of units, oldest ticket first.
func (s *store) ListTriage(ctx context.Context, units []string, after string, limit int) ([]Assignment, error) {
	sql := `SELECT ` + assignmentColumns + ` FROM assignments WHERE status = 2 AND triage_org_unit_id = ANY($1)`
	args := []any{units, limit}
	if after != "" {
		sql += ` AND ticket_id > $3`
		args = append(args, after)
	}
	rows, err := s.db.Q(ctx).Query(ctx, sql+` ORDER BY ticket_id LIMIT $2`, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, fromRow)
}

// TraceParent returns the ticket's trace, or "".
func (s *store) TraceParent(ctx context.Context, ticketID string) string {
	var tp string
	_ = s.db.Q(ctx).QueryRow(ctx, `SELECT trace_parent FROM assignments WHERE ticket_id = $1`, ticketID).Scan(&tp)
	return tp
}

func (s *store) get(ctx context.Context, q postgres.Querier, ticketID, lock string) (Assignment, error) {
	rows, err := q.Query(ctx, `SELECT `+assignmentColumns+` FROM assignments WHERE ticket_id = $1`+lock, ticketID)
	if err != nil {
		return Assignment{}, err
	}
	a, err := pgx.CollectExactlyOneRow(rows, fromRow)
	if errors.Is(err, pgx.ErrNoRows) {
		return Assignment{}, ErrNotFound
	}
	return a, err
}

func save(ctx context.Context, tx pgx.Tx, a Assignment) error {
	a.Assisting, a.Returners, a.Area = postgres.Texts(a.Assisting), postgres.Texts(a.Returners), postgres.Texts(a.Area)
	_, err := tx.Exec(ctx, `INSERT INTO assignments (`+assignmentColumns+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,$27,
			$28,$29,$30,$31,$32)
		ON CONFLICT (ticket_id) DO UPDATE SET status = $3, version = $4, lead_department_id = $9,
			assisting_department_ids = $10, accept_due = $11, resolve_due = $12, catalog_version = $13, rule = $14,
			triage_org_unit_id = $15, updated_at = $18, owner_department_id = $19, wall_clock = $20,
			accept_within = $21, resolve_within = $22, paused_at = $23, escalation_level = $24, next_check = $25,
			return_count = $26, returners = $27, binding = $28, arbitration = $29, extension_due = $30,
			extension_reason = $31, area_ids = $32`,
		a.TicketID, a.Number, a.Status, a.Version, a.Facts.Category, a.Facts.GridID, a.Facts.Kind, a.Synthetic,
		a.Lead, a.Assisting, postgres.NullTime(a.AcceptDue), postgres.NullTime(a.ResolveDue), a.CatalogVersion, a.Rule,
		a.TriageOrgUnit, a.TraceParent, a.Snapshot, a.UpdatedAt, a.Owner, a.WallClock, windowText(a.AcceptWithin),
		windowText(a.ResolveWithin), postgres.NullTime(a.PausedAt), a.EscalationLevel, postgres.NullTime(a.NextCheck),
		a.ReturnCount, a.Returners, a.Binding, a.Arbitration, postgres.NullTime(a.ExtensionDue), a.ExtensionReason, a.Area)
	if err != nil {
		return fmt.Errorf("save assignment %s: %w", a.TicketID, err)
	}
	return nil
}

func windowText(w calendar.Window) string {
	if w.IsZero() {
		return ""
	}
	return w.String()
}

func fromRow(row pgx.CollectableRow) (Assignment, error) {
	var a Assignment
	var accept, resolve, paused, next, extension *time.Time
	var acceptWithin, resolveWithin string
	err := row.Scan(&a.TicketID, &a.Number, &a.Status, &a.Version, &a.Facts.Category, &a.Facts.GridID,
		&a.Facts.Kind, &a.Synthetic, &a.Lead, &a.Assisting, &accept, &resolve, &a.CatalogVersion, &a.Rule,
		&a.TriageOrgUnit, &a.TraceParent, &a.Snapshot, &a.UpdatedAt, &a.Owner, &a.WallClock, &acceptWithin,
		&resolveWithin, &paused, &a.EscalationLevel, &next, &a.ReturnCount, &a.Returners, &a.Binding,
		&a.Arbitration, &extension, &a.ExtensionReason, &a.Area)
	if err != nil {
		return a, err
	}
	a.AcceptDue, a.ResolveDue, a.UpdatedAt = postgres.TimeOf(accept), postgres.TimeOf(resolve), a.UpdatedAt.UTC()
	a.PausedAt, a.NextCheck, a.ExtensionDue = postgres.TimeOf(paused), postgres.TimeOf(next), postgres.TimeOf(extension)
	a.AcceptWithin, _ = parseWindow(acceptWithin)
	a.ResolveWithin, _ = parseWindow(resolveWithin)
	return a, nil
}
