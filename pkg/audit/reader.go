package audit

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/apperr"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/pagetoken"
	"github.com/whistle-civic/whistle/pkg/postgres"
)

// Page sizes of List.
const (
	// DefaultPageSize is the page size when a filter names none.
	DefaultPageSize = 50
	// MaxPageSize caps a page.
	MaxPageSize = 500
)

var (
	// ErrBadPageToken: the page token was not made by List.
	ErrBadPageToken = apperr.New(apperr.InvalidArgument,
		"page_token is not valid: pass the next_page_token of the previous response, or none for the first page")
	// ErrBadTicketID: the ticket filter is not a ticket id.
	ErrBadTicketID = apperr.New(apperr.InvalidArgument, "ticket_id must be a ticket's id (a UUID), or empty for all tickets")
)

// Filter selects audit entries; zero fields select everything.
type Filter struct {
	// TicketID keeps entries about this ticket.
	TicketID string
	// Subject keeps entries made by this caller.
	Subject string
	// OrgUnit keeps entries made by callers acting for this org unit.
	OrgUnit string
	// Action keeps entries of this action.
	Action string
	// After keeps entries made at or after it; Before, made before it.
	After, Before time.Time
	// PageSize is the most entries to return: DefaultPageSize when 0 or
	// less, at most MaxPageSize.
	PageSize int
	// PageToken continues from the next token of a previous page.
	PageToken string
}

// Row is an audit entry as stored.
type Row struct {
	// Service is the schema that holds the entry: the service that made the change.
	Service string
	// ID is the entry's id within its service.
	ID int64
	// At is the start of the transaction that made the change.
	At time.Time
	// Subject, OrgUnit, Roles and Via are the caller's.
	Subject, OrgUnit string
	Roles            []string
	Via              string
	// Action, TicketID, EventID and Detail are the entry's (see Entry).
	Action, TicketID, EventID, Detail string
	// RemoteAddr is the address the call came from; TraceID its trace.
	RemoteAddr, TraceID string
}

// Reader lists the audit log of several services, all in one database, as
// one log.
type Reader struct {
	q       postgres.Querier
	schemas []string
}

// NewReader returns a reader of the audit tables in schemas, through q (a
// pool on the database holding them; its search path does not matter, the
// tables are named with their schema).
func NewReader(q postgres.Querier, schemas ...string) *Reader {
	s := slices.Clone(schemas)
	slices.Sort(s)
	return &Reader{q: q, schemas: slices.Compact(s)}
}

// Schemas returns the schemas the reader covers, sorted.
func (r *Reader) Schemas() []string { return slices.Clone(r.schemas) }

// A cursor's time lies in the years 1 to 9999, as every row's does; a token
// outside them was not made by encode (and would overflow the database's
// encoding of the time).
var (
	minCursorMicros = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	maxCursorMicros = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
)

// cursor is where a page ended: the last row's (at, service, id). Pages run
// in the order (at, service, id) descending, service compared bytewise.
type cursor struct {
	at      time.Time
	service string
	id      int64
}

func (c cursor) encode() string {
	return pagetoken.Encode(strconv.FormatInt(c.at.UnixMicro(), 10) + ":" + c.service + ":" + strconv.FormatInt(c.id, 10))
}

func decodeCursor(token string) (*cursor, error) {
	raw, err := pagetoken.Decode(token)
	if err != nil {
		return nil, ErrBadPageToken
	}
	if raw == "" {
		return nil, nil
	}
	at, rest, ok1 := strings.Cut(raw, ":")
	i := strings.LastIndexByte(rest, ':')
	if !ok1 || i <= 0 {
		return nil, ErrBadPageToken
	}
	micros, err1 := strconv.ParseInt(at, 10, 64)
	id, err2 := strconv.ParseInt(rest[i+1:], 10, 64)
	if err1 != nil || err2 != nil || micros < minCursorMicros || micros > maxCursorMicros {
		return nil, ErrBadPageToken
	}
	return &cursor{at: time.UnixMicro(micros).UTC(), service: rest[:i], id: id}, nil
}

// List returns a page of the entries f selects, newest first, across every
// schema of the reader, and the token of the next page ("" on the last). A
// bad page token or ticket id is an InvalidArgument error.
func (r *Reader) List(ctx context.Context, f Filter) ([]Row, string, error) {
	cur, err := decodeCursor(f.PageToken)
	if err != nil {
		return nil, "", fmt.Errorf("list audit: %w", err)
	}
	if f.TicketID != "" && !ids.Valid(f.TicketID) {
		return nil, "", fmt.Errorf("list audit: %w", ErrBadTicketID)
	}
	size := f.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	size = min(size, MaxPageSize)
	if len(r.schemas) == 0 {
		return nil, "", nil
	}
	sql, args := listSQL(r.schemas, f, cur, size+1) // one more tells whether a next page exists
	pgRows, err := r.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list audit: %w", err)
	}
	rows, err := pgx.CollectRows(pgRows, func(row pgx.CollectableRow) (Row, error) {
		var e Row
		err := row.Scan(&e.Service, &e.ID, &e.At, &e.Subject, &e.OrgUnit, &e.Roles, &e.Via, &e.Action,
			&e.TicketID, &e.EventID, &e.Detail, &e.RemoteAddr, &e.TraceID)
		e.At = e.At.UTC()
		return e, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list audit: %w", err)
	}
	if len(rows) <= size {
		return rows, "", nil
	}
	rows = rows[:size]
	last := rows[size-1]
	return rows, cursor{at: last.At, service: last.Service, id: last.ID}.encode(), nil
}

// listSQL is the UNION ALL of one query per schema, each already filtered,
// ordered and limited (so each can use its indexes), merged in page order.
func listSQL(schemas []string, f Filter, cur *cursor, limit int) (string, []any) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var where []string
	if f.TicketID != "" {
		where = append(where, "ticket_id = "+arg(f.TicketID))
	}
	if f.Subject != "" {
		where = append(where, "subject = "+arg(f.Subject))
	}
	if f.OrgUnit != "" {
		where = append(where, "org_unit_id = "+arg(f.OrgUnit))
	}
	if f.Action != "" {
		where = append(where, "action = "+arg(f.Action))
	}
	if !f.After.IsZero() {
		where = append(where, "at >= "+arg(f.After))
	}
	if !f.Before.IsZero() {
		where = append(where, "at < "+arg(f.Before))
	}
	var curAt, curID string
	if cur != nil {
		curAt, curID = arg(cur.at), arg(cur.id)
	}
	lim := arg(limit)
	branches := make([]string, 0, len(schemas))
	for _, s := range schemas {
		conds := slices.Clone(where)
		if cur != nil {
			// (at, service, id) < cursor, with service fixed in this branch.
			switch {
			case s < cur.service:
				conds = append(conds, "at <= "+curAt)
			case s == cur.service:
				conds = append(conds, "(at, id) < ("+curAt+", "+curID+")")
			default:
				conds = append(conds, "at < "+curAt)
			}
		}
		cond := ""
		if len(conds) > 0 {
			cond = " WHERE " + strings.Join(conds, " AND ")
		}
		branches = append(branches, fmt.Sprintf(`(SELECT %s::text COLLATE "C" AS service, id, at, subject, org_unit_id, roles, via, action,
			coalesce(ticket_id::text, '') AS ticket_id, coalesce(event_id::text, '') AS event_id, detail, remote_addr, trace_id
			FROM %s%s ORDER BY at DESC, id DESC LIMIT %s)`, arg(s), pgx.Identifier{s, "audit"}.Sanitize(), cond, lim))
	}
	return "SELECT * FROM (" + strings.Join(branches, "\nUNION ALL\n") + ") AS audit\nORDER BY at DESC, service DESC, id DESC LIMIT " + lim, args
}
