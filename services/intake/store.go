package intake

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/geo"
	"github.com/whistle-civic/whistle/pkg/outbox"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/telemetry"
)

// store keeps tickets in the intake schema.
type store struct {
	db *postgres.DB
}

var errDuplicateKey = errors.New("a ticket with this idempotency key exists")

const ticketColumns = `id, number, kind, source, category, title, description,
	grid_id, has_coordinates, latitude, longitude, address,
	reporter_org_unit_id, reporter_name, reporter_phone, synthetic, reported_at,
	idempotency_key, fingerprint, trace_parent, related_ticket_ids, photo_ids::text[], departments,
	status, COALESCE(updated_at, reported_at), facts`

// insertColumns are those a new ticket is written with.
const insertColumns = `id, number, kind, source, category, title, description,
	grid_id, has_coordinates, latitude, longitude, address,
	reporter_org_unit_id, reporter_name, reporter_phone, synthetic, reported_at,
	idempotency_key, fingerprint, trace_parent, related_ticket_ids, photo_ids, cell, facts`

// Create stores t and its reported event in one transaction, which
// concurrent reports may share (postgres.DB.InGroupTx).
func (s *store) Create(ctx context.Context, t Ticket) error {
	if t.RelatedTicketIDs == nil {
		t.RelatedTicketIDs = []string{}
	}
	return s.db.InGroupTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO tickets (`+insertColumns+`)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24)
			ON CONFLICT (reporter_org_unit_id, idempotency_key) DO NOTHING`,
			t.ID, t.Number, t.Kind, t.Source, t.Category, t.Title, t.Description,
			t.Location.GridID, t.Location.HasCoordinates, t.Location.Latitude, t.Location.Longitude, t.Location.Address,
			t.Reporter.OrgUnitID, t.Reporter.Name, t.Reporter.Phone, t.Synthetic, t.ReportedAt,
			t.IdempotencyKey, t.Fingerprint, t.TraceParent, t.RelatedTicketIDs, postgres.Texts(t.PhotoIDs), cellOf(t.Location),
			factsOf(t.Facts))
		if err != nil {
			return fmt.Errorf("insert ticket: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return errDuplicateKey
		}
		if n, err := attachMedia(ctx, tx, t.ID, roleReport, t.Reporter.OrgUnitID, t.PhotoIDs); err != nil {
			return err
		} else if n != len(t.PhotoIDs) {
			return ErrUnknownPhoto
		}
		repeated, err := markRepeated(ctx, tx, t)
		if err != nil {
			return err
		}
		return outbox.AppendSet(ctx, tx, append([]outbox.Entry{{Ctx: ctx, Events: []*whistlev1.Event{toReportedEvent(t)}}}, repeated...))
	})
}

// markRepeated records that t repeats the closed tickets of t.Repeats that
// no report repeated yet, and returns their repeated events, each in its
// ticket's trace.
func markRepeated(ctx context.Context, tx pgx.Tx, t Ticket) ([]outbox.Entry, error) {
	if len(t.Repeats) == 0 {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `UPDATE tickets SET repeated_by = $1 WHERE id = ANY($2::uuid[]) AND status = 6 AND repeated_by IS NULL
		RETURNING id::text, number, version, updated_at, trace_parent`, t.ID, t.Repeats)
	if err != nil {
		return nil, fmt.Errorf("mark repeated tickets: %w", err)
	}
	marked, err := pgx.CollectRows(rows, scanRepeat)
	if err != nil {
		return nil, fmt.Errorf("mark repeated tickets: %w", err)
	}
	return repeatedEntries(ctx, marked, func(r repeat) *whistlev1.Event { return toRepeatedEvent(t, r) }), nil
}

// scanRepeat reads a repeated ticket as marked: id, number, version, close
// time, traceparent, and (when selected) the report that repeated it.
func scanRepeat(row pgx.CollectableRow) (repeat, error) {
	var r repeat
	dest := []any{&r.TicketID, &r.Number, &r.Version, &r.ClosedAt, &r.TraceParent}
	if len(row.FieldDescriptions()) > len(dest) {
		dest = append(dest, &r.By.ID, &r.By.Number, &r.By.ReportedAt, &r.By.Reporter.OrgUnitID, &r.By.Synthetic)
	}
	err := row.Scan(dest...)
	r.ClosedAt, r.By.ReportedAt = r.ClosedAt.UTC(), r.By.ReportedAt.UTC()
	return r, err
}

// repeatedEntries are the repeated events of marked tickets, each with a
// context in that ticket's own trace.
func repeatedEntries(ctx context.Context, marked []repeat, event func(repeat) *whistlev1.Event) []outbox.Entry {
	out := make([]outbox.Entry, len(marked))
	for i, r := range marked {
		out[i] = outbox.Entry{Ctx: telemetry.WithTicketTrace(ctx, r.TraceParent), Events: []*whistlev1.Event{event(r)}}
	}
	return out
}

// FindByKey returns the ticket reported with key from reporterOrgUnit.
func (s *store) FindByKey(ctx context.Context, reporterOrgUnit, key string) (Ticket, error) {
	return s.one(ctx, `WHERE reporter_org_unit_id = $1 AND idempotency_key = $2`, reporterOrgUnit, key)
}

// Get returns a ticket by id.
func (s *store) Get(ctx context.Context, id string) (Ticket, error) {
	return s.one(ctx, `WHERE id = $1`, id)
}

// GetByNumber returns a ticket by number.
func (s *store) GetByNumber(ctx context.Context, number string) (Ticket, error) {
	return s.one(ctx, `WHERE number = $1`, number)
}

func (s *store) one(ctx context.Context, where string, args ...any) (Ticket, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT `+ticketColumns+` FROM tickets `+where, args...)
	if err != nil {
		return Ticket{}, err
	}
	t, err := pgx.CollectExactlyOneRow(rows, fromRow)
	if errors.Is(err, pgx.ErrNoRows) {
		return Ticket{}, ErrNotFound
	}
	return t, err
}

// List returns tickets matching f, newest first.
func (s *store) List(ctx context.Context, f ListFilter) ([]Ticket, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.ReporterOrgUnitID != "" {
		add("reporter_org_unit_id = ?", f.ReporterOrgUnitID)
	}
	if f.Category != "" {
		add("category = ?", f.Category)
	}
	if f.Source != 0 {
		add("source = ?", f.Source)
	}
	if !f.ReportedAfter.IsZero() {
		add("reported_at >= ?", f.ReportedAfter)
	}
	if !f.ReportedBefore.IsZero() {
		add("reported_at < ?", f.ReportedBefore)
	}
	if !f.IncludeSynthetic {
		where = append(where, "NOT synthetic")
	}
	if f.Within != nil {
		add("(grid_id = ANY(?) OR reporter_org_unit_id = ANY(?))", f.Within)
	}
	if len(f.Statuses) > 0 {
		add("status = ANY(?)", f.Statuses)
	}
	if f.After != "" {
		add("id < ?", f.After)
	}
	sql := `SELECT ` + ticketColumns + ` FROM tickets`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit)
	sql += " ORDER BY id DESC LIMIT $" + strconv.Itoa(len(args))
	rows, err := s.db.Q(ctx).Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, fromRow)
}

// ReserveNumbers reserves n ticket numbers of day in a transaction of its own,
// so the counter's row lock is held only for an instant.
func (s *store) ReserveNumbers(ctx context.Context, day string, n int64) (int64, error) {
	last, err := s.ReserveDays(ctx, map[string]int64{day: n})
	return last[day], err
}

func fromRow(row pgx.CollectableRow) (Ticket, error) {
	var t Ticket
	err := row.Scan(&t.ID, &t.Number, &t.Kind, &t.Source, &t.Category, &t.Title, &t.Description,
		&t.Location.GridID, &t.Location.HasCoordinates, &t.Location.Latitude, &t.Location.Longitude, &t.Location.Address,
		&t.Reporter.OrgUnitID, &t.Reporter.Name, &t.Reporter.Phone, &t.Synthetic, &t.ReportedAt,
		&t.IdempotencyKey, &t.Fingerprint, &t.TraceParent, &t.RelatedTicketIDs, &t.PhotoIDs, &t.Departments,
		&t.Status, &t.UpdatedAt, &t.Facts)
	t.ReportedAt, t.UpdatedAt = t.ReportedAt.UTC(), t.UpdatedAt.UTC()
	return t, err
}

// Nearby returns up to q.Limit open tickets of q.Category reported since
// q.Since, in one of q.Cover's cell ranges or in q.GridID, with their places.
func (s *store) Nearby(ctx context.Context, q NearbyQuery) ([]near, error) {
	args := []any{q.Category, q.Synthetic, q.Since, q.Except}
	var places []string
	if len(q.Cover) > 0 {
		cond, cargs := geo.Where("cell", q.Cover, len(args)+1)
		places, args = append(places, cond), append(args, cargs...)
	}
	if q.GridID != "" {
		args = append(args, q.GridID)
		places = append(places, "grid_id = $"+strconv.Itoa(len(args)))
	}
	if len(places) == 0 {
		return nil, nil
	}
	when := `reported_at >= $3 AND status NOT IN (6, 9, 10)` // open
	if !q.ClosedSince.IsZero() {
		args = append(args, q.ClosedSince)
		when = `(` + when + ` OR (status = 6 AND repeated_by IS NULL AND updated_at >= $` + strconv.Itoa(len(args)) + `))`
	}
	args = append(args, q.Limit)
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT id, number, status, reported_at, grid_id, has_coordinates, latitude, longitude,
			COALESCE(NULLIF(grid_id, ''), reporter_org_unit_id)
		FROM tickets WHERE category = $1 AND synthetic = $2 AND id::text <> $4 AND `+when+`
			AND (`+strings.Join(places, " OR ")+`)
		ORDER BY reported_at DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("nearby tickets: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (near, error) {
		var n near
		err := row.Scan(&n.TicketID, &n.Number, &n.Status, &n.ReportedAt, &n.Location.GridID, &n.Location.HasCoordinates,
			&n.Location.Latitude, &n.Location.Longitude, &n.Place)
		return n, err
	})
}

// Follow records changes: the statuses and departments of a batch with one
// statement (a status over an older version only, the last of a ticket's
// when a batch holds several; departments added whatever the order), and
// the evidence each attached, a statement for each change that holds some.
func (s *store) Follow(ctx context.Context, cs []StatusChange) error {
	q := s.db.Q(ctx)
	latest := map[string]StatusChange{}
	for _, c := range cs {
		l, seen := latest[c.TicketID]
		depts := append(l.Departments, c.Departments...)
		if !seen || c.Version > l.Version {
			l.Status, l.Version, l.At = c.Status, c.Version, c.At
		}
		l.TicketID, l.Departments = c.TicketID, depts
		latest[c.TicketID] = l
		if _, err := attachMedia(ctx, q, c.TicketID, roleEvidence, c.Unit, c.Evidence); err != nil {
			return err
		}
	}
	ids := slices.Sorted(maps.Keys(latest))
	statuses, versions, depts, ats := make([]int16, len(ids)), make([]int64, len(ids)), make([]string, len(ids)), make([]time.Time, len(ids))
	for i, id := range ids {
		l := latest[id]
		statuses[i], versions[i], depts[i], ats[i] = int16(l.Status), l.Version, strings.Join(l.Departments, ","), l.At
	}
	_, err := q.Exec(ctx, `UPDATE tickets t SET
			status = CASE WHEN t.version < c.version THEN c.status ELSE t.status END,
			updated_at = CASE WHEN t.version < c.version THEN c.at ELSE t.updated_at END,
			version = GREATEST(t.version, c.version),
			departments = ARRAY(SELECT DISTINCT d FROM unnest(t.departments || string_to_array(c.depts, ',')) AS d ORDER BY d)
		FROM unnest($1::uuid[], $2::smallint[], $3::bigint[], $4::text[], $5::timestamptz[]) AS c(id, status, version, depts, at)
		WHERE t.id = c.id AND (t.version < c.version OR c.depts <> '')`, ids, statuses, versions, depts, ats)
	return err
}

// cellOf is the S2 cell a place is indexed by (nil without coordinates).
func cellOf(l Location) *int64 {
	if !l.HasCoordinates {
		return nil
	}
	c := geo.Cell(geo.Point{Lat: l.Latitude, Lng: l.Longitude})
	return &c
}

// factsOf is how facts are stored: a JSON array, empty without any.
func factsOf(fs []Fact) []Fact {
	if fs == nil {
		return []Fact{}
	}
	return fs
}
