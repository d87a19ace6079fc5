package response

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/postgres"
)

// lockedItem is an item as a batch found it and as the batch leaves it.
type lockedItem struct {
	before, after Item
}

// LockSet reads and locks the items of ids with their assists, in ticket
// order, in the transaction ctx carries; tickets in no inbox are absent.
func (s *store) LockSet(ctx context.Context, ids []string) (map[string]*lockedItem, error) {
	out := make(map[string]*lockedItem, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT `+itemColumns+`, `+assistColumns+` FROM items
		WHERE ticket_id = ANY($1::uuid[]) ORDER BY ticket_id FOR UPDATE`, ids)
	if err != nil {
		return nil, fmt.Errorf("lock %d inbox items: %w", len(ids), err)
	}
	list, err := pgx.CollectRows(rows, fromRowWithAssists)
	if err != nil {
		return nil, fmt.Errorf("lock %d inbox items: %w", len(ids), err)
	}
	for _, it := range list {
		it.Role = RoleLead
		after := it
		after.Assists = slices.Clone(it.Assists)
		out[it.TicketID] = &lockedItem{before: it, after: after}
	}
	return out, nil
}

// SaveSet writes the items a batch changed, in the transaction ctx carries:
// the items with one statement, the assists that changed with one more and
// those gone with another, and each department's inbox changes (logged as
// the batch leaves each item, see logChanges).
func (s *store) SaveSet(ctx context.Context, list []*lockedItem) error {
	if len(list) == 0 {
		return nil
	}
	return s.db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		rows := make([]itemRow, len(list))
		var w assistRows
		var goneTicket, goneDept []string
		for i, l := range list {
			rows[i] = toItemRow(l.after)
			written, gone := assistChanges(l.before.Assists, l.after.Assists)
			for _, a := range written {
				w.add(l.after.TicketID, a)
			}
			for _, d := range gone {
				goneTicket, goneDept = append(goneTicket, l.after.TicketID), append(goneDept, d)
			}
		}
		doc, err := json.Marshal(rows)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO items (`+itemColumns+`, next_due) SELECT `+itemColumns+`, next_due
			FROM jsonb_populate_recordset(NULL::items, $1) ORDER BY ticket_id
			ON CONFLICT (ticket_id) DO UPDATE SET department_id = EXCLUDED.department_id, status = EXCLUDED.status,
				version = EXCLUDED.version, category = EXCLUDED.category, title = EXCLUDED.title,
				accept_due = EXCLUDED.accept_due, resolve_due = EXCLUDED.resolve_due,
				dispatched_at = EXCLUDED.dispatched_at, updated_at = EXCLUDED.updated_at,
				rework_count = EXCLUDED.rework_count, rework_reasons = EXCLUDED.rework_reasons,
				rework_comment = EXCLUDED.rework_comment, result = EXCLUDED.result, ticket = EXCLUDED.ticket,
				escalation_level = EXCLUDED.escalation_level, paused = EXCLUDED.paused, binding = EXCLUDED.binding,
				extension_due = EXCLUDED.extension_due, area_ids = EXCLUDED.area_ids, next_due = EXCLUDED.next_due`, doc)
		if len(w.ticket) > 0 {
			b.Queue(`INSERT INTO assists (ticket_id, department_id, reported, note, reported_at)
				SELECT * FROM unnest($1::uuid[], $2::text[], $3::bool[], $4::text[], $5::timestamptz[])
				ON CONFLICT (ticket_id, department_id) DO UPDATE SET reported = EXCLUDED.reported,
					note = EXCLUDED.note, reported_at = EXCLUDED.reported_at`, w.ticket, w.dept, w.reported, w.note, w.at)
		}
		if len(goneTicket) > 0 {
			b.Queue(`DELETE FROM assists a USING unnest($1::uuid[], $2::text[]) AS g(ticket_id, department_id)
				WHERE a.ticket_id = g.ticket_id AND a.department_id = g.department_id`, goneTicket, goneDept)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("save %d inbox items: %w", len(list), err)
		}
		for _, l := range list {
			if err := logChanges(ctx, tx, l.before, l.after); err != nil {
				return err
			}
		}
		return nil
	})
}

// assistRows are assists to write, column by column.
type assistRows struct {
	ticket, dept, note []string
	reported           []bool
	at                 []*time.Time
}

func (w *assistRows) add(ticketID string, a Assist) {
	w.ticket, w.dept, w.note = append(w.ticket, ticketID), append(w.dept, a.DepartmentID), append(w.note, a.Note)
	w.reported, w.at = append(w.reported, a.Reported), append(w.at, postgres.NullTime(a.ReportedAt))
}

// itemRow is an item as a row of the items table, in the JSON
// jsonb_populate_recordset reads: absent times are null, the ticket snapshot
// is bytea's hex text.
type itemRow struct {
	TicketID        string     `json:"ticket_id"`
	Number          string     `json:"ticket_number"`
	DepartmentID    string     `json:"department_id"`
	Status          int16      `json:"status"`
	Version         int64      `json:"version"`
	Category        string     `json:"category"`
	Title           string     `json:"title"`
	Synthetic       bool       `json:"synthetic"`
	AcceptDue       *time.Time `json:"accept_due"`
	ResolveDue      *time.Time `json:"resolve_due"`
	DispatchedAt    time.Time  `json:"dispatched_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	ReworkCount     int32      `json:"rework_count"`
	ReworkReasons   []string   `json:"rework_reasons"`
	ReworkComment   string     `json:"rework_comment"`
	Result          string     `json:"result"`
	TraceParent     string     `json:"trace_parent"`
	Snapshot        *string    `json:"ticket"`
	EscalationLevel int32      `json:"escalation_level"`
	Paused          bool       `json:"paused"`
	Binding         bool       `json:"binding"`
	ExtensionDue    *time.Time `json:"extension_due"`
	Area            []string   `json:"area_ids"`
	NextDue         time.Time  `json:"next_due"`
}

func toItemRow(it Item) itemRow {
	r := itemRow{TicketID: it.TicketID, Number: it.Number, DepartmentID: it.DepartmentID, Status: int16(it.Status),
		Version: it.Version, Category: it.Category, Title: it.Title, Synthetic: it.Synthetic,
		AcceptDue: postgres.NullTime(it.AcceptDue), ResolveDue: postgres.NullTime(it.ResolveDue),
		DispatchedAt: it.DispatchedAt, UpdatedAt: it.UpdatedAt, ReworkCount: it.ReworkCount,
		ReworkReasons: postgres.Texts(it.ReworkReasons), ReworkComment: it.ReworkComment, Result: it.Result,
		TraceParent: it.TraceParent, EscalationLevel: it.EscalationLevel, Paused: it.Paused, Binding: it.Binding,
		ExtensionDue: postgres.NullTime(it.ExtensionDue), Area: postgres.Texts(it.Area), NextDue: sortDue(it)}
	if it.Snapshot != nil {
		hexText := `\x` + hex.EncodeToString(it.Snapshot)
		r.Snapshot = &hexText
	}
	return r
}
