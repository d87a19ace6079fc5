package intake

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/outbox"
)

// ImportedContent returns the content of the tickets imported under these
// external ids, by external id.
func (s *store) ImportedContent(ctx context.Context, externalIDs []string) (map[string]string, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT external_id, fingerprint FROM tickets WHERE external_id = ANY($1)`, externalIDs)
	if err != nil {
		return nil, fmt.Errorf("read imported tickets: %w", err)
	}
	out := map[string]string{}
	var id, content string
	_, err = pgx.ForEachRow(rows, []any{&id, &content}, func() error { out[id] = content; return nil })
	return out, err
}

// CreateImported stores the tickets with one statement and their imported
// events with one more, in the transaction ctx carries. A ticket another
// import stored meanwhile (its external id taken) is left out, and so is
// its event.
func (s *store) CreateImported(ctx context.Context, ts []importedRow) ([]string, error) {
	n := len(ts)
	cols := struct {
		id, number, category, title, description, grid, address, reporter, name, phone, key, content, trace, external []string
		kind, source, status                                                                                          []int16
		hasCoords                                                                                                     []bool
		lat, lng                                                                                                      []float64
		reportedAt                                                                                                    []any
		version                                                                                                       []int64
		cell                                                                                                          []*int64
		depts                                                                                                         []string
		updated                                                                                                       []any
	}{}
	for _, r := range ts {
		t := r.Ticket
		cols.id, cols.number, cols.category = append(cols.id, t.ID), append(cols.number, t.Number), append(cols.category, t.Category)
		cols.title, cols.description = append(cols.title, t.Title), append(cols.description, t.Description)
		cols.grid, cols.address = append(cols.grid, t.Location.GridID), append(cols.address, t.Location.Address)
		cols.reporter, cols.name, cols.phone = append(cols.reporter, t.Reporter.OrgUnitID), append(cols.name, t.Reporter.Name), append(cols.phone, t.Reporter.Phone)
		cols.key, cols.content, cols.trace = append(cols.key, t.IdempotencyKey), append(cols.content, t.Fingerprint), append(cols.trace, t.TraceParent)
		cols.external = append(cols.external, r.ExternalID)
		cols.kind, cols.source = append(cols.kind, int16(t.Kind)), append(cols.source, int16(t.Source))
		last := r.Life[len(r.Life)-1]
		cols.status, cols.version = append(cols.status, int16(finalStatus(last.Type))), append(cols.version, last.Version)
		cols.hasCoords, cols.lat, cols.lng = append(cols.hasCoords, t.Location.HasCoordinates), append(cols.lat, t.Location.Latitude), append(cols.lng, t.Location.Longitude)
		cols.reportedAt, cols.cell = append(cols.reportedAt, t.ReportedAt), append(cols.cell, cellOf(t.Location))
		cols.depts = append(cols.depts, strings.Join(t.Departments, ",")) // ids hold no commas
		cols.updated = append(cols.updated, last.At)
	}
	rows, err := s.db.Q(ctx).Query(ctx, `INSERT INTO tickets (id, number, kind, source, category, title, description,
			grid_id, has_coordinates, latitude, longitude, address, reporter_org_unit_id, reporter_name, reporter_phone,
			reported_at, idempotency_key, fingerprint, trace_parent, cell, status, version, departments, external_id, imported, updated_at)
		SELECT u.id, u.number, u.kind, u.source, u.category, u.title, u.description, u.grid, u.has, u.lat, u.lng, u.address,
			u.reporter, u.name, u.phone, u.at, u.key, u.content, u.trace, u.cell, u.status, u.version,
			COALESCE(string_to_array(NULLIF(u.depts, ''), ','), '{}'), u.external, true, u.updated
		FROM unnest($1::uuid[], $2::text[], $3::smallint[], $4::smallint[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::boolean[], $10::float8[], $11::float8[], $12::text[], $13::text[], $14::text[], $15::text[], $16::timestamptz[],
			$17::text[], $18::text[], $19::text[], $20::bigint[], $21::smallint[], $22::bigint[], $23::text[], $24::text[],
			$25::timestamptz[])
			AS u(id, number, kind, source, category, title, description, grid, has, lat, lng, address, reporter, name, phone,
				at, key, content, trace, cell, status, version, depts, external, updated)
		ON CONFLICT DO NOTHING
		RETURNING external_id`,
		cols.id, cols.number, cols.kind, cols.source, cols.category, cols.title, cols.description, cols.grid,
		cols.hasCoords, cols.lat, cols.lng, cols.address, cols.reporter, cols.name, cols.phone, cols.reportedAt,
		cols.key, cols.content, cols.trace, cols.cell, cols.status, cols.version, cols.depts, cols.external, cols.updated)
	if err != nil {
		return nil, fmt.Errorf("insert %d imported tickets: %w", n, err)
	}
	stored, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("insert %d imported tickets: %w", n, err)
	}
	kept := make(map[string]bool, len(stored))
	for _, id := range stored {
		kept[id] = true
	}
	entries := make([]outbox.Entry, 0, len(stored))
	for _, r := range ts {
		if kept[r.ExternalID] {
			entries = append(entries, outbox.Entry{Ctx: ctx, Events: toImportedEvents(r)})
		}
	}
	return stored, outbox.AppendSet(ctx, s.db.Q(ctx), entries)
}

// ReserveDays reserves n ticket numbers of each day with one statement, in
// a transaction of its own, so that the counters' rows are locked only for an
// instant: live reports of a day never wait for an import to commit.
func (s *store) ReserveDays(ctx context.Context, days map[string]int64) (map[string]int64, error) {
	var ds []string
	var ns []int64
	for d, n := range days {
		ds, ns = append(ds, d), append(ns, n)
	}
	rows, err := s.db.Pool.Query(ctx, `INSERT INTO ticket_numbers (day, last) SELECT * FROM unnest($1::text[], $2::bigint[]) ORDER BY 1
		ON CONFLICT (day) DO UPDATE SET last = ticket_numbers.last + EXCLUDED.last
		RETURNING day, last`, ds, ns)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	var day string
	var last int64
	_, err = pgx.ForEachRow(rows, []any{&day, &last}, func() error { out[day] = last; return nil })
	return out, err
}

// MarkImportedRepeats marks, with one statement, each closed ticket (not yet
// repeated) whose matter a report made in its grid within window after its
// close, where the closed ticket or the report is one of ids: the earliest
// such report repeats it, as a live report would have. Their repeated
// events, marked historical, go in each ticket's trace.
func (s *store) MarkImportedRepeats(ctx context.Context, ids []string, window time.Duration) error {
	if len(ids) == 0 {
		return nil
	}
	q := s.db.Q(ctx)
	rows, err := q.Query(ctx, `WITH pairs AS (
			SELECT DISTINCT ON (c.id) c.id AS cid, n.id AS nid, n.number AS nnum, n.reported_at AS nat, n.reporter_org_unit_id AS nrep,
				n.synthetic AS nsyn
			FROM tickets c JOIN tickets n ON n.category = c.category AND n.synthetic = c.synthetic AND n.grid_id = c.grid_id
				AND n.id <> c.id AND n.source <> $3 AND n.reported_at >= c.updated_at AND n.reported_at <= c.updated_at + $2 * interval '1 microsecond'
			WHERE c.status = 6 AND c.repeated_by IS NULL AND c.grid_id <> '' AND (c.id = ANY($1::uuid[]) OR n.id = ANY($1::uuid[]))
			ORDER BY c.id, n.reported_at, n.id)
		UPDATE tickets t SET repeated_by = p.nid FROM pairs p WHERE t.id = p.cid
		RETURNING t.id::text, t.number, t.version, t.updated_at, t.trace_parent, p.nid::text, p.nnum, p.nat, p.nrep, p.nsyn`,
		ids, window.Microseconds(), int16(SourceProactive))
	if err != nil {
		return fmt.Errorf("mark imported repeats: %w", err)
	}
	marked, err := pgx.CollectRows(rows, scanRepeat)
	if err != nil {
		return fmt.Errorf("mark imported repeats: %w", err)
	}
	return outbox.AppendSet(ctx, q, repeatedEntries(ctx, marked, func(r repeat) *whistlev1.Event {
		ev := toRepeatedEvent(r.By, r)
		ev.Historical = true
		return ev
	}))
}
