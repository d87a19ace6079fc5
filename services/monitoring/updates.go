package monitoring

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/pagetoken"
	"github.com/whistle-civic/whistle/pkg/policy"
)

// Update is a timeline entry with its ticket, as ListUpdates lists it.
type Update struct {
	TicketID, Number string
	// Area is the ticket's place, grid up to city.
	Area  []string
	Entry Entry
}

// UpdatesQuery selects the entries of a period in an area.
type UpdatesQuery struct {
	// Unit keeps tickets in this area; "" keeps all.
	Unit string
	// After (inclusive) and Before (exclusive) bound when they happened.
	After, Before time.Time
	// TransitionsOnly leaves out annotations.
	TransitionsOnly, IncludeSynthetic bool
	// From continues after this entry (zero for the first page).
	From UpdateCursor
	// Limit is the page size; 0 means DefaultUpdatesPage.
	Limit int
}

// UpdateCursor is where a page of updates ends.
type UpdateCursor struct {
	At              time.Time
	TicketID, Event string
}

// DefaultUpdatesPage is the page size of ListUpdates when none is asked.
const DefaultUpdatesPage = 100

// updatesReader is what Updates needs from storage.
type updatesReader interface {
	Updates(ctx context.Context, q UpdatesQuery) ([]Update, error)
}

// Updates lists the entries q selects, oldest first, and the cursor of the
// next page when there may be more.
func (s *Service) Updates(ctx context.Context, q UpdatesQuery) ([]Update, *UpdateCursor, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultUpdatesPage
	}
	want := q.Limit
	q.Limit++ // one more tells whether a next page exists
	us, err := s.updates.Updates(ctx, q)
	if err != nil {
		return nil, nil, fmt.Errorf("updates of %s: %w", q.Unit, err)
	}
	if len(us) <= want {
		return us, nil, nil
	}
	last := us[want-1]
	return us[:want], &UpdateCursor{At: last.Entry.OccurredAt, TicketID: last.TicketID, Event: last.Entry.EventID}, nil
}

// Updates reads the entries q selects, in (occurred_at, ticket, event) order.
func (s *store) Updates(ctx context.Context, q UpdatesQuery) ([]Update, error) {
	var at, ticketID, event any // none on the first page
	if q.From.TicketID != "" {
		at, ticketID, event = q.From.At, q.From.TicketID, q.From.Event
	}
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT t.ticket_id::text, t.ticket_number, t.area_ids,
			tl.event_id::text, tl.event_type, tl.version, tl.transition, tl.occurred_at, tl.actor_id, tl.actor_org_unit_id,
			tl.actor_name, tl.producer, tl.trace_id, tl.status, tl.summary
		FROM timeline tl JOIN tickets t ON t.ticket_id = tl.ticket_id
		WHERE tl.occurred_at >= $1 AND tl.occurred_at < $2
			AND ($3::timestamptz IS NULL OR (tl.occurred_at, tl.ticket_id, tl.event_id) > ($3, $4::uuid, $5::uuid))
			AND ($6 = '' OR t.area_ids @> ARRAY[$6]) AND ($7 OR NOT t.synthetic) AND (NOT $8 OR tl.transition)
		ORDER BY tl.occurred_at, tl.ticket_id, tl.event_id LIMIT $9`,
		q.After, q.Before, at, ticketID, event, q.Unit, q.IncludeSynthetic, q.TransitionsOnly, q.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Update, error) {
		var u Update
		e := &u.Entry
		err := row.Scan(&u.TicketID, &u.Number, &u.Area, &e.EventID, &e.EventType, &e.Version, &e.Transition, &e.OccurredAt,
			&e.ActorID, &e.ActorOrg, &e.ActorName, &e.Producer, &e.TraceID, &e.Status, &e.Summary)
		e.OccurredAt = e.OccurredAt.UTC()
		return u, err
	})
}

func toUpdatesToken(c *UpdateCursor) string {
	if c == nil {
		return ""
	}
	return pagetoken.Encode(c.At.UTC().Format(time.RFC3339Nano) + "|" + c.TicketID + "|" + c.Event)
}

func fromUpdatesToken(token string) (UpdateCursor, error) {
	raw, err := pagetoken.Decode(token)
	if err != nil {
		return UpdateCursor{}, ErrBadPageToken
	}
	if raw == "" {
		return UpdateCursor{}, nil
	}
	parts := strings.Split(raw, "|")
	if len(parts) != 3 || !ids.Valid(parts[1]) || !ids.Valid(parts[2]) {
		return UpdateCursor{}, ErrBadPageToken
	}
	at, err := time.Parse(time.RFC3339Nano, parts[0])
	if err != nil {
		return UpdateCursor{}, ErrBadPageToken
	}
	return UpdateCursor{At: at, TicketID: parts[1], Event: parts[2]}, nil
}

func (g *grpcServer) ListUpdates(ctx context.Context, req *whistlev1.ListUpdatesRequest) (*whistlev1.ListUpdatesResponse, error) {
	from, err := fromUpdatesToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	unit, err := g.unitFor(ctx, actUpdates, req.GetOrgUnitId())
	if err != nil {
		return nil, err
	}
	us, next, err := g.svc.Updates(ctx, UpdatesQuery{Unit: unit, After: req.GetAfter().AsTime(), Before: req.GetBefore().AsTime(),
		TransitionsOnly: req.GetTransitionsOnly(), IncludeSynthetic: req.GetIncludeSynthetic(), From: from, Limit: int(req.GetPageSize())})
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.ListUpdatesResponse{NextPageToken: toUpdatesToken(next)}
	for _, u := range us {
		e := masked(ctx, policy.Resource{Ticket: true, Areas: u.Area}, []Entry{u.Entry})[0]
		resp.Updates = append(resp.Updates, &whistlev1.TicketUpdate{TicketId: u.TicketID, TicketNumber: u.Number, Entry: toProtoEntry(e)})
	}
	return resp, nil
}
