package response

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/outbox"
	"github.com/whistle-civic/whistle/pkg/postgres"
)

// store keeps inbox items in the response schema.
type store struct {
	db *postgres.DB
}

const itemColumns = `ticket_id, ticket_number, department_id, status, version, category, title, synthetic,
	accept_due, resolve_due, dispatched_at, updated_at, rework_count, rework_reasons, rework_comment, result,
	trace_parent, ticket, escalation_level, paused, binding, extension_due`

// Update locks the item of ticketID (a zero Item if there is none), lets fn
// change it, and saves it with the event announcing what fn returns (nil for
// nothing), in the transaction ctx carries or a new one.
func (s *store) Update(ctx context.Context, ticketID string, fn func(it *Item) (*Announcement, error)) error {
	return s.db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		it, err := s.get(ctx, tx, ticketID, " FOR UPDATE")
		if errors.Is(err, ErrNotFound) {
			it, err = Item{TicketID: ticketID}, nil
		}
		if err != nil {
			return err
		}
		ann, err := fn(&it)
		if err != nil || !it.Dirty() {
			return err
		}
		if err := save(ctx, tx, it); err != nil {
			return err
		}
		if ann == nil {
			return nil
		}
		return outbox.Append(ctx, tx, toEvent(it, *ann))
	})
}

// Get returns a ticket's item.
func (s *store) Get(ctx context.Context, ticketID string) (Item, error) {
	return s.get(ctx, s.db.Q(ctx), ticketID, "")
}

// TraceParent returns the ticket's trace, or "" when it is in no inbox.
func (s *store) TraceParent(ctx context.Context, ticketID string) string {
	var tp string
	_ = s.db.Q(ctx).QueryRow(ctx, `SELECT trace_parent FROM items WHERE ticket_id = $1`, ticketID).Scan(&tp)
	return tp
}

func (s *store) get(ctx context.Context, q postgres.Querier, ticketID, lock string) (Item, error) {
	rows, err := q.Query(ctx, `SELECT `+itemColumns+` FROM items WHERE ticket_id = $1`+lock, ticketID)
	if err != nil {
		return Item{}, err
	}
	it, err := pgx.CollectExactlyOneRow(rows, fromRow)
	if errors.Is(err, pgx.ErrNoRows) {
		return Item{}, ErrNotFound
	}
	return it, err
}

// List returns a page of a department's inbox by next deadline, then ticket id.
func (s *store) List(ctx context.Context, f InboxFilter) ([]Item, error) {
	statuses := make([]int32, len(f.Statuses))
	for i, st := range f.Statuses {
		statuses[i] = int32(st)
	}
	sql := `SELECT ` + itemColumns + ` FROM items WHERE department_id = $1 AND status = ANY($2)`
	args := []any{f.DepartmentID, statuses}
	if f.After.TicketID != "" {
		sql += ` AND (next_due, ticket_id) > ($3, $4)`
		args = append(args, f.After.Due, f.After.TicketID)
	}
	sql += ` ORDER BY next_due, ticket_id LIMIT $` + strconv.Itoa(len(args)+1)
	rows, err := s.db.Q(ctx).Query(ctx, sql, append(args, f.Limit)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, fromRow)
}

func save(ctx context.Context, tx pgx.Tx, it Item) error {
	if it.ReworkReasons == nil {
		it.ReworkReasons = []string{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO items (`+itemColumns+`, next_due)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23)
		ON CONFLICT (ticket_id) DO UPDATE SET department_id = $3, status = $4, version = $5, category = $6, title = $7,
			accept_due = $9, resolve_due = $10, dispatched_at = $11, updated_at = $12, rework_count = $13,
			rework_reasons = $14, rework_comment = $15, result = $16, ticket = $18, escalation_level = $19,
			paused = $20, binding = $21, extension_due = $22, next_due = $23`,
		it.TicketID, it.Number, it.DepartmentID, it.Status, it.Version, it.Category, it.Title, it.Synthetic,
		postgres.NullTime(it.AcceptDue), postgres.NullTime(it.ResolveDue), it.DispatchedAt, it.UpdatedAt,
		it.ReworkCount, it.ReworkReasons, it.ReworkComment, it.Result, it.TraceParent, it.Snapshot,
		it.EscalationLevel, it.Paused, it.Binding, postgres.NullTime(it.ExtensionDue), sortDue(it))
	if err != nil {
		return fmt.Errorf("save inbox item %s: %w", it.TicketID, err)
	}
	return nil
}

func fromRow(row pgx.CollectableRow) (Item, error) {
	var it Item
	var accept, resolve, extension *time.Time
	err := row.Scan(&it.TicketID, &it.Number, &it.DepartmentID, &it.Status, &it.Version, &it.Category, &it.Title,
		&it.Synthetic, &accept, &resolve, &it.DispatchedAt, &it.UpdatedAt, &it.ReworkCount, &it.ReworkReasons,
		&it.ReworkComment, &it.Result, &it.TraceParent, &it.Snapshot, &it.EscalationLevel, &it.Paused, &it.Binding,
		&extension)
	it.AcceptDue, it.ResolveDue, it.ExtensionDue = postgres.TimeOf(accept), postgres.TimeOf(resolve), postgres.TimeOf(extension)
	it.DispatchedAt, it.UpdatedAt = it.DispatchedAt.UTC(), it.UpdatedAt.UTC()
	return it, err
}
