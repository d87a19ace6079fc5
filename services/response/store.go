package response

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/outbox"
	"github.com/whistle-civic/whistle/pkg/postgres"
)

// store keeps inbox items, assists and the inbox change logs in the response schema.
type store struct {
	db *postgres.DB
}

const itemColumns = `ticket_id, ticket_number, department_id, status, version, category, title, synthetic,
	accept_due, resolve_due, dispatched_at, updated_at, rework_count, rework_reasons, rework_comment, result,
	trace_parent, ticket, escalation_level, paused, binding, extension_due, area_ids`

// Update locks the item of ticketID (a zero Item if there is none), lets fn
// change it, and saves it, its assists, the changes it makes to each
// department's inbox and the event announcing what fn returns (nil for
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
		before := it
		before.Assists = slices.Clone(it.Assists)
		ann, err := fn(&it)
		if err != nil || !it.Dirty() {
			return err
		}
		if err := save(ctx, tx, before, it); err != nil {
			return err
		}
		if err := logChanges(ctx, tx, before, it); err != nil {
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
	rows, err := q.Query(ctx, `SELECT `+itemColumns+`, `+assistColumns+` FROM items WHERE ticket_id = $1`+lock, ticketID)
	if err != nil {
		return Item{}, err
	}
	it, err := pgx.CollectExactlyOneRow(rows, fromRowWithAssists)
	if errors.Is(err, pgx.ErrNoRows) {
		return Item{}, ErrNotFound
	}
	if err != nil {
		return Item{}, err
	}
	it.Role = RoleLead
	return it, nil
}

// List returns a page of a department's inbox by next deadline, then ticket
// id: the tickets it leads, or those it assists on.
func (s *store) List(ctx context.Context, f InboxFilter, now time.Time) ([]Item, error) {
	statuses := make([]int32, len(f.Statuses))
	for i, st := range f.Statuses {
		statuses[i] = int32(st)
	}
	from := `items WHERE department_id = $1`
	if f.Role == RoleAssist {
		from = `items WHERE ticket_id IN (SELECT ticket_id FROM assists WHERE department_id = $1)`
	}
	args := []any{f.DepartmentID, statuses}
	where := ` AND status = ANY($2)`
	add := func(cond string, v any) {
		args = append(args, v)
		where += fmt.Sprintf(cond, len(args))
	}
	if f.Category != "" {
		add(` AND category = $%d`, f.Category)
	}
	if f.Area != "" {
		add(` AND $%d = ANY(area_ids)`, f.Area)
	}
	if f.OverdueOnly {
		add(` AND next_due < $%d`, now)
	}
	if f.MinEscalation > 0 {
		add(` AND escalation_level >= $%d`, f.MinEscalation)
	}
	if f.After.TicketID != "" {
		args = append(args, f.After.Due, f.After.TicketID)
		where += fmt.Sprintf(` AND (next_due, ticket_id) > ($%d, $%d)`, len(args)-1, len(args))
	}
	args = append(args, f.Limit)
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT `+itemColumns+` FROM `+from+where+
		` ORDER BY next_due, ticket_id LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, err
	}
	items, err := pgx.CollectRows(rows, fromRow)
	if err != nil || len(items) == 0 {
		return items, err
	}
	ids := make([]string, len(items))
	for i := range items {
		ids[i], items[i].Role = items[i].TicketID, f.Role
	}
	all, err := assistsOf(ctx, s.db.Q(ctx), ids)
	for i := range items {
		for _, a := range all {
			if a.ticketID == items[i].TicketID {
				items[i].Assists = append(items[i].Assists, a.Assist)
			}
		}
	}
	return items, err
}

type ticketAssist struct {
	ticketID string
	Assist
}

// assistsOf returns the assisting parts of tickets, by ticket then department.
func assistsOf(ctx context.Context, q postgres.Querier, ticketIDs []string) ([]ticketAssist, error) {
	rows, err := q.Query(ctx, `SELECT ticket_id, department_id, reported, note, reported_at FROM assists
		WHERE ticket_id = ANY($1) ORDER BY ticket_id, department_id`, ticketIDs)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (ticketAssist, error) {
		var a ticketAssist
		var at *time.Time
		err := row.Scan(&a.ticketID, &a.DepartmentID, &a.Reported, &a.Note, &at)
		a.ReportedAt = postgres.TimeOf(at)
		return a, err
	})
}

func save(ctx context.Context, tx pgx.Tx, before, it Item) error {
	it.ReworkReasons, it.Area = postgres.Texts(it.ReworkReasons), postgres.Texts(it.Area)
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO items (`+itemColumns+`, next_due)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24)
		ON CONFLICT (ticket_id) DO UPDATE SET department_id = $3, status = $4, version = $5, category = $6, title = $7,
			accept_due = $9, resolve_due = $10, dispatched_at = $11, updated_at = $12, rework_count = $13,
			rework_reasons = $14, rework_comment = $15, result = $16, ticket = $18, escalation_level = $19,
			paused = $20, binding = $21, extension_due = $22, area_ids = $23, next_due = $24`,
		it.TicketID, it.Number, it.DepartmentID, it.Status, it.Version, it.Category, it.Title, it.Synthetic,
		postgres.NullTime(it.AcceptDue), postgres.NullTime(it.ResolveDue), it.DispatchedAt, it.UpdatedAt,
		it.ReworkCount, it.ReworkReasons, it.ReworkComment, it.Result, it.TraceParent, it.Snapshot,
		it.EscalationLevel, it.Paused, it.Binding, postgres.NullTime(it.ExtensionDue), it.Area, sortDue(it))
	queueAssists(b, it.TicketID, before.Assists, it.Assists)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("save inbox item %s: %w", it.TicketID, err)
	}
	return nil
}

// queueAssists adds the statements that save the assists that changed from
// before to after: new or changed ones written, those gone deleted; none
// when nothing changed.
func queueAssists(b *pgx.Batch, ticketID string, before, after []Assist) {
	written, gone := assistChanges(before, after)
	for _, a := range written {
		b.Queue(`INSERT INTO assists (ticket_id, department_id, reported, note, reported_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (ticket_id, department_id) DO UPDATE SET reported = $3, note = $4, reported_at = $5`,
			ticketID, a.DepartmentID, a.Reported, a.Note, postgres.NullTime(a.ReportedAt))
	}
	if len(gone) > 0 {
		b.Queue(`DELETE FROM assists WHERE ticket_id = $1 AND department_id = ANY($2)`, ticketID, gone)
	}
}

// assistChanges returns the assists new or changed from before to after,
// and the departments whose part is gone, in department order.
func assistChanges(before, after []Assist) (written []Assist, gone []string) {
	was := make(map[string]Assist, len(before))
	for _, a := range before {
		was[a.DepartmentID] = a
	}
	for _, a := range after {
		old, ok := was[a.DepartmentID]
		delete(was, a.DepartmentID)
		if !ok || old.Reported != a.Reported || old.Note != a.Note || !old.ReportedAt.Equal(a.ReportedAt) {
			written = append(written, a)
		}
	}
	return written, slices.Sorted(maps.Keys(was))
}

// logChanges records what a change to an item means for each department's
// inbox: an update for the lead and the assisting departments, a removal for
// a department the ticket left. The changes are numbered and written just
// before the transaction commits, all of a transaction's at once
// (writeChanges), so a department's counter is locked only for the commit.
func logChanges(ctx context.Context, tx pgx.Tx, before, after Item) error {
	views := map[string]Item{}
	removed := map[string]bool{}
	if after.DepartmentID != "" {
		views[after.DepartmentID] = withRole(after, RoleLead)
	}
	for _, a := range after.Assists {
		if _, lead := views[a.DepartmentID]; !lead {
			views[a.DepartmentID] = withRole(after, RoleAssist)
		}
	}
	if d := before.DepartmentID; d != "" {
		if _, still := views[d]; !still {
			views[d], removed[d] = withRole(before, RoleLead), true
		}
	}
	for _, a := range before.Assists {
		if _, still := views[a.DepartmentID]; !still {
			views[a.DepartmentID], removed[a.DepartmentID] = withRole(before, RoleAssist), true
		}
	}
	for _, d := range slices.Sorted(maps.Keys(views)) {
		snapshot, err := proto.Marshal(toProtoItem(views[d]))
		if err != nil {
			return err
		}
		kind := changeUpsert
		if removed[d] {
			kind = changeRemoved
		}
		c := pendingChange{dept: d, ticketID: after.TicketID, kind: kind, item: snapshot, at: after.UpdatedAt}
		if err := postgres.Defer(ctx, tx, changesKey{}, c, writeChanges); err != nil {
			return err
		}
	}
	return nil
}

// changesKey names a transaction's pending inbox changes.
type changesKey struct{}

// pendingChange is one change to a department's inbox, not yet numbered.
type pendingChange struct {
	dept, ticketID string
	kind           int16
	item           []byte
	at             time.Time
}

// writeChanges writes a transaction's inbox changes, unnumbered, in one
// statement, and wakes the sequencer once the transaction commits (Sequence
// numbers them). Taking no counter, it holds no lock another department's
// or the same department's changes wait for.
func writeChanges(ctx context.Context, tx pgx.Tx, changes []pendingChange) error {
	dept, ticketID, kind, item, at := make([]string, len(changes)), make([]string, len(changes)),
		make([]int16, len(changes)), make([][]byte, len(changes)), make([]time.Time, len(changes))
	for i, c := range changes {
		dept[i], ticketID[i], kind[i], item[i], at[i] = c.dept, c.ticketID, c.kind, c.item, c.at
	}
	_, err := tx.Exec(ctx, `INSERT INTO inbox_changes (department_id, ticket_id, kind, item, changed_at)
		SELECT * FROM unnest($1::text[], $2::uuid[], $3::smallint[], $4::bytea[], $5::timestamptz[])`,
		dept, ticketID, kind, item, at)
	if err != nil {
		return fmt.Errorf("log %d inbox changes: %w", len(changes), err)
	}
	if err := postgres.Notify(ctx, tx, pendingChannel, ""); err != nil {
		return fmt.Errorf("wake the inbox change sequencer: %w", err)
	}
	return nil
}

// sequencePage is how many changes one Sequence numbers at most.
const sequencePage = 5000

// Sequence numbers committed inbox changes that have no number yet, per
// department in the order they were written, and returns how many it
// numbered and the departments whose inbox changed (their watchers are woken
// once it commits). One sequencer runs at a time (a transaction lock), so a
// department's numbers follow commit order: a change still being written
// when Sequence reads is numbered by a later one, after those it saw.
func (s *store) Sequence(ctx context.Context) (int, []string, error) {
	var depts []string
	n := 0
	err := s.db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('response.inbox_changes.sequence', 0))`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `WITH pending AS (
				SELECT id, department_id FROM inbox_changes WHERE seq IS NULL ORDER BY id LIMIT $1),
			numbered AS (
				SELECT id, department_id, row_number() OVER (PARTITION BY department_id ORDER BY id) AS k,
					count(*) OVER (PARTITION BY department_id) AS n FROM pending),
			bumped AS (
				INSERT INTO inbox_cursors (department_id, seq)
				SELECT department_id, max(n) FROM numbered GROUP BY department_id ORDER BY department_id
				ON CONFLICT (department_id) DO UPDATE SET seq = inbox_cursors.seq + EXCLUDED.seq
				RETURNING department_id, seq)
			UPDATE inbox_changes c SET seq = b.seq - m.n + m.k
			FROM numbered m JOIN bumped b USING (department_id)
			WHERE c.id = m.id
			RETURNING c.department_id`, sequencePage)
		if err != nil {
			return fmt.Errorf("number inbox changes: %w", err)
		}
		numbered, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("number inbox changes: %w", err)
		}
		n = len(numbered)
		slices.Sort(numbered)
		depts = slices.Compact(numbered)
		for _, d := range depts { // wake the department's watchers once this commits
			if err := postgres.Notify(ctx, tx, inboxChannel, d); err != nil {
				return fmt.Errorf("wake the watchers of %s's inbox: %w", d, err)
			}
		}
		return nil
	})
	return n, depts, err
}

// The kinds of inbox change; values equal whistle.v1.InboxChangeKind.
const (
	changeUpsert  int16 = 1
	changeRemoved int16 = 2
)

func withRole(it Item, r Role) Item {
	it.Role = r
	return it
}

// Changes returns up to limit changes to dept's inbox after cursor, in order.
func (s *store) Changes(ctx context.Context, dept string, after int64, limit int) ([]Change, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT seq, kind, item, changed_at FROM inbox_changes
		WHERE department_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, dept, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Change, error) {
		var c Change
		var kind int16
		err := row.Scan(&c.Cursor, &kind, &c.Item, &c.ChangedAt)
		c.Removed, c.ChangedAt = kind == changeRemoved, c.ChangedAt.UTC()
		return c, err
	})
}

// Latest returns the cursor of dept's newest change (0 when none).
func (s *store) Latest(ctx context.Context, dept string) (int64, error) {
	var seq int64
	err := s.db.Q(ctx).QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM inbox_changes WHERE department_id = $1`, dept).Scan(&seq)
	return seq, err
}

// Purge deletes change log rows older than cutoff.
func (s *store) Purge(ctx context.Context, cutoff time.Time) error {
	_, err := s.db.Pool.Exec(ctx, `DELETE FROM inbox_changes WHERE id IN (
		SELECT id FROM inbox_changes WHERE changed_at < $1 AND seq IS NOT NULL LIMIT 10000)`, cutoff)
	return err
}

func fromRow(row pgx.CollectableRow) (Item, error) {
	return scanItem(row)
}

// assistColumns are an item's assists, as four arrays in department order.
const assistColumns = `ARRAY(SELECT a.department_id FROM assists a WHERE a.ticket_id = items.ticket_id ORDER BY a.department_id),
	ARRAY(SELECT a.reported FROM assists a WHERE a.ticket_id = items.ticket_id ORDER BY a.department_id),
	ARRAY(SELECT a.note FROM assists a WHERE a.ticket_id = items.ticket_id ORDER BY a.department_id),
	ARRAY(SELECT a.reported_at FROM assists a WHERE a.ticket_id = items.ticket_id ORDER BY a.department_id)`

// fromRowWithAssists reads an item and its assists (itemColumns, then
// assistColumns).
func fromRowWithAssists(row pgx.CollectableRow) (Item, error) {
	var depts, notes []string
	var reported []bool
	var at []pgtype.Timestamptz
	it, err := scanItem(row, &depts, &reported, &notes, &at)
	if err != nil {
		return it, err
	}
	if len(reported) != len(depts) || len(notes) != len(depts) || len(at) != len(depts) {
		return it, fmt.Errorf("assists of %s changed while read", it.TicketID)
	}
	for i, d := range depts {
		a := Assist{DepartmentID: d, Reported: reported[i], Note: notes[i]}
		if at[i].Valid {
			a.ReportedAt = at[i].Time.UTC()
		}
		it.Assists = append(it.Assists, a)
	}
	return it, nil
}

// scanItem reads itemColumns, then into more, if any.
func scanItem(row pgx.CollectableRow, more ...any) (Item, error) {
	var it Item
	var accept, resolve, extension *time.Time
	err := row.Scan(append([]any{&it.TicketID, &it.Number, &it.DepartmentID, &it.Status, &it.Version, &it.Category, &it.Title,
		&it.Synthetic, &accept, &resolve, &it.DispatchedAt, &it.UpdatedAt, &it.ReworkCount, &it.ReworkReasons,
		&it.ReworkComment, &it.Result, &it.TraceParent, &it.Snapshot, &it.EscalationLevel, &it.Paused, &it.Binding,
		&extension, &it.Area}, more...)...)
	it.AcceptDue, it.ResolveDue, it.ExtensionDue = postgres.TimeOf(accept), postgres.TimeOf(resolve), postgres.TimeOf(extension)
	it.DispatchedAt, it.UpdatedAt = it.DispatchedAt.UTC(), it.UpdatedAt.UTC()
	return it, err
}
