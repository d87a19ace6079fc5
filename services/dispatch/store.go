package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/outbox"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// store keeps assignments in the dispatch schema.
type store struct {
	db *postgres.DB
}

const assignmentColumns = `ticket_id, ticket_number, status, version, category, grid_id, kind, synthetic,
	lead_department_id, assisting_department_ids, accept_due, resolve_due, catalog_version, rule,
	triage_org_unit_id, trace_parent, ticket, updated_at`

// Update locks the assignment of ticketID (a zero Assignment if there is
// none), lets fn change it, and saves it together with the event announcing
// the action fn returns (none if ""), in the transaction ctx carries or a new one.
func (s *store) Update(ctx context.Context, ticketID string, fn func(a *Assignment) (ticket.Action, error)) error {
	return s.db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		a, err := s.get(ctx, tx, ticketID, " FOR UPDATE")
		if errors.Is(err, ErrNotFound) {
			a, err = Assignment{TicketID: ticketID}, nil
		}
		if err != nil {
			return err
		}
		before := a
		action, err := fn(&a)
		if err != nil {
			return err
		}
		if a.Version == before.Version && a.Status == before.Status {
			return nil
		}
		if err := save(ctx, tx, a); err != nil {
			return err
		}
		if action == "" {
			return nil
		}
		return outbox.Append(ctx, tx, toEvent(a, action))
	})
}

// Get returns the assignment of a ticket.
func (s *store) Get(ctx context.Context, ticketID string) (Assignment, error) {
	return s.get(ctx, s.db.Q(ctx), ticketID, "")
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
	if a.Assisting == nil {
		a.Assisting = []string{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO assignments (`+assignmentColumns+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)
		ON CONFLICT (ticket_id) DO UPDATE SET status = $3, version = $4, lead_department_id = $9,
			assisting_department_ids = $10, accept_due = $11, resolve_due = $12, catalog_version = $13,
			rule = $14, triage_org_unit_id = $15, updated_at = $18`,
		a.TicketID, a.Number, a.Status, a.Version, a.Facts.Category, a.Facts.GridID, a.Facts.Kind, a.Synthetic,
		a.Lead, a.Assisting, postgres.NullTime(a.AcceptDue), postgres.NullTime(a.ResolveDue), a.CatalogVersion, a.Rule,
		a.TriageOrgUnit, a.TraceParent, a.Snapshot, a.UpdatedAt)
	if err != nil {
		return fmt.Errorf("save assignment %s: %w", a.TicketID, err)
	}
	return nil
}

func fromRow(row pgx.CollectableRow) (Assignment, error) {
	var a Assignment
	var accept, resolve *time.Time
	err := row.Scan(&a.TicketID, &a.Number, &a.Status, &a.Version, &a.Facts.Category, &a.Facts.GridID,
		&a.Facts.Kind, &a.Synthetic, &a.Lead, &a.Assisting, &accept, &resolve, &a.CatalogVersion, &a.Rule,
		&a.TriageOrgUnit, &a.TraceParent, &a.Snapshot, &a.UpdatedAt)
	a.AcceptDue, a.ResolveDue, a.UpdatedAt = postgres.TimeOf(accept), postgres.TimeOf(resolve), a.UpdatedAt.UTC()
	return a, err
}
