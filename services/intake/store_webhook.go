package intake

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/postgres"
)

const webhookColumns = `w.id::text, w.url, w.secret, w.event_types, w.org_unit_ids, w.description, w.created_at, w.created_by`

func scanWebhook(row pgx.Row, extra ...any) (Subscription, error) {
	var s Subscription
	err := row.Scan(append([]any{&s.ID, &s.URL, &s.Secret, &s.EventTypes, &s.Units, &s.Description, &s.CreatedAt, &s.CreatedBy}, extra...)...)
	return s, err
}

// AddWebhook stores a subscription, in the transaction ctx carries, unless
// MaxWebhooks exist (ErrTooManyWebhooks).
func (s *store) AddWebhook(ctx context.Context, sub Subscription) error {
	q := s.db.Q(ctx)
	if err := roomFor(ctx, q, "webhooks", MaxWebhooks, ErrTooManyWebhooks); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `INSERT INTO webhooks (id, url, secret, event_types, org_unit_ids, description, created_at, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		sub.ID, sub.URL, sub.Secret, sub.EventTypes, sub.Units, sub.Description, sub.CreatedAt, sub.CreatedBy)
	if err != nil {
		return fmt.Errorf("store webhook: %w", err)
	}
	return nil
}

// roomFor checks, in the transaction q is, that table holds fewer than
// limit rows (full otherwise), and keeps others from adding until it ends:
// one add at a time counts, so that concurrent adds cannot pass the bound
// together.
func roomFor(ctx context.Context, q postgres.Querier, table string, limit int, full error) error {
	if _, err := q.Exec(ctx, `LOCK TABLE `+table+` IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("lock %s: %w", table, err)
	}
	var n int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		return fmt.Errorf("count %s: %w", table, err)
	}
	if n >= limit {
		return full
	}
	return nil
}

// Subscriptions returns every subscription, oldest first; with counts
// (Pending, Failed) when asked.
func (s *store) Subscriptions(ctx context.Context, counts bool) ([]Subscription, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT `+webhookColumns+` FROM webhooks w ORDER BY w.created_at, w.id`)
	if err != nil {
		return nil, fmt.Errorf("read webhooks: %w", err)
	}
	defer rows.Close()
	var out []Subscription
	for rows.Next() {
		var sub Subscription
		sub, err = scanWebhook(rows)
		if err != nil {
			return nil, fmt.Errorf("read webhooks: %w", err)
		}
		out = append(out, sub)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read webhooks: %w", err)
	}
	return out, s.countInto(ctx, out, counts)
}

// countInto fills Pending and Failed, with one look at the deliveries.
func (s *store) countInto(ctx context.Context, subs []Subscription, counts bool) error {
	if !counts || len(subs) == 0 {
		return nil
	}
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT webhook_id::text, count(*) FILTER (WHERE failed_at IS NULL), count(*) FILTER (WHERE failed_at IS NOT NULL)
		FROM webhook_deliveries GROUP BY webhook_id`)
	if err != nil {
		return fmt.Errorf("count deliveries: %w", err)
	}
	byID := map[string][2]int64{}
	var id string
	var pending, failed int64
	if _, err := pgx.ForEachRow(rows, []any{&id, &pending, &failed}, func() error {
		byID[id] = [2]int64{pending, failed}
		return nil
	}); err != nil {
		return fmt.Errorf("count deliveries: %w", err)
	}
	for i := range subs {
		subs[i].Pending, subs[i].Failed = byID[subs[i].ID][0], byID[subs[i].ID][1]
	}
	return nil
}

// Webhook returns one subscription, or ErrWebhookNotFound.
func (s *store) Webhook(ctx context.Context, id string) (Subscription, error) {
	sub, err := scanWebhook(s.db.Q(ctx).QueryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks w WHERE w.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Subscription{}, ErrWebhookNotFound
	}
	if err != nil {
		return Subscription{}, fmt.Errorf("read webhook %s: %w", id, err)
	}
	return sub, nil
}

// RemoveWebhook deletes a subscription and its deliveries, in the
// transaction ctx carries, and returns it as it was; ErrWebhookNotFound if
// none has the id.
func (s *store) RemoveWebhook(ctx context.Context, id string) (Subscription, error) {
	sub, err := scanWebhook(s.db.Q(ctx).QueryRow(ctx, `DELETE FROM webhooks w WHERE w.id = $1 RETURNING `+webhookColumns, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Subscription{}, ErrWebhookNotFound
	}
	if err != nil {
		return Subscription{}, fmt.Errorf("remove webhook %s: %w", id, err)
	}
	return sub, nil
}

// Grids returns the grid of each ticket intake holds, by ticket id.
func (s *store) Grids(ctx context.Context, ticketIDs []string) (map[string]string, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT id::text, grid_id FROM tickets WHERE id = ANY($1::uuid[])`, ticketIDs)
	if err != nil {
		return nil, fmt.Errorf("read grids: %w", err)
	}
	out := make(map[string]string, len(ticketIDs))
	var id, grid string
	_, err = pgx.ForEachRow(rows, []any{&id, &grid}, func() error { out[id] = grid; return nil })
	return out, err
}

// delivery is one event waiting for one subscription.
type delivery struct {
	WebhookID, EventID, EventType, TicketID string
	// Event is the event's protobuf encoding; Traceparent its trace.
	Event       []byte
	Traceparent string
}

// EnqueueDeliveries queues deliveries with one statement, in the transaction
// ctx carries, due at now, in the order given; one already queued (the same
// subscription and event) is left as it is.
func (s *store) EnqueueDeliveries(ctx context.Context, ds []delivery, now time.Time) error {
	if len(ds) == 0 {
		return nil
	}
	hooks, evIDs, types, tickets, traces := make([]string, len(ds)), make([]string, len(ds)), make([]string, len(ds)), make([]string, len(ds)), make([]string, len(ds))
	bodies := make([][]byte, len(ds))
	for i, d := range ds {
		hooks[i], evIDs[i], types[i], tickets[i], traces[i], bodies[i] = d.WebhookID, d.EventID, d.EventType, d.TicketID, d.Traceparent, d.Event
	}
	_, err := s.db.Q(ctx).Exec(ctx, `INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, ticket_id, event, traceparent, next_at)
		SELECT d.webhook_id, d.event_id, d.event_type, d.ticket_id, d.event, d.traceparent, $7
		FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[]) WITH ORDINALITY
			AS d(webhook_id, event_id, event_type, ticket_id, event, traceparent, n)
		JOIN webhooks w ON w.id = d.webhook_id
		ORDER BY d.n
		ON CONFLICT (webhook_id, event_id) DO NOTHING`, hooks, evIDs, types, tickets, bodies, traces, now)
	if err != nil {
		return fmt.Errorf("queue %d webhook deliveries: %w", len(ds), err)
	}
	return nil
}

// claimed is a delivery taken for an attempt.
type claimed struct {
	ID          int64
	Attempt     int
	FirstTry    time.Time
	URL, Secret string
	Event       []byte
	Traceparent string
}

// ClaimDeliveries takes up to limit due deliveries for an attempt, leasing
// them until now+lease: of each subscription's queue for a ticket only the
// oldest, so that a ticket's events arrive in order; rows other replicas
// hold are skipped.
func (s *store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]claimed, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `UPDATE webhook_deliveries d
		SET leased_until = $1::timestamptz + $2::interval, attempts = d.attempts + 1, first_try_at = coalesce(d.first_try_at, $1)
		FROM webhooks w
		WHERE w.id = d.webhook_id AND d.id IN (
			SELECT h.id FROM webhook_deliveries h
			WHERE h.failed_at IS NULL AND h.next_at <= $1 AND (h.leased_until IS NULL OR h.leased_until <= $1)
				AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
					WHERE e.webhook_id = h.webhook_id AND e.ticket_id = h.ticket_id AND e.failed_at IS NULL AND e.id < h.id)
			ORDER BY h.next_at, h.id LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING d.id, d.attempts, d.first_try_at, w.url, w.secret, d.event, d.traceparent`, now, lease, limit)
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	var out []claimed
	var c claimed
	_, err = pgx.ForEachRow(rows, []any{&c.ID, &c.Attempt, &c.FirstTry, &c.URL, &c.Secret, &c.Event, &c.Traceparent},
		func() error { out = append(out, c); return nil })
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	return out, nil
}

// settlement is what became of one claimed delivery.
type settlement struct {
	ID int64
	// Delivered removes it; else Next schedules a retry, or (zero) it failed.
	Delivered bool
	Next      time.Time
	Status    int
	Error     string
}

// SettleDeliveries records attempts' outcomes with one round trip: the
// delivered are removed, the others retried at their Next or, without one,
// kept as failures (failed at now).
func (s *store) SettleDeliveries(ctx context.Context, ss []settlement, now time.Time) error {
	done, ids, next, errs := splitSettlements(ss)
	statuses := make([]int32, 0, len(ids))
	for _, st := range ss {
		if !st.Delivered {
			statuses = append(statuses, int32(st.Status))
		}
	}
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM webhook_deliveries WHERE id = ANY($1)`, done)
	b.Queue(`UPDATE webhook_deliveries d SET leased_until = NULL, http_status = u.status, error = u.error,
			next_at = coalesce(u.next, d.next_at), failed_at = CASE WHEN u.next IS NULL THEN $5::timestamptz END
		FROM unnest($1::bigint[], $2::timestamptz[], $3::int[], $4::text[]) AS u(id, next, status, error)
		WHERE d.id = u.id`, ids, next, statuses, errs, now)
	if err := s.db.Q(ctx).SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("settle %d webhook deliveries: %w", len(ss), err)
	}
	return nil
}

// splitSettlements parts outcomes into the done (their ids) and the others:
// their ids, their retry times (nil: given up) and errors, in order.
func splitSettlements(ss []settlement) (done, ids []int64, next []*time.Time, errs []string) {
	for _, st := range ss {
		if st.Delivered {
			done = append(done, st.ID)
			continue
		}
		var at *time.Time
		if !st.Next.IsZero() {
			at = &st.Next
		}
		ids, next, errs = append(ids, st.ID), append(next, at), append(errs, st.Error)
	}
	return done, ids, next, errs
}

// failure is a delivery given up on.
type failure struct {
	ID                                    int64
	WebhookID, EventID, EventType, Ticket string
	Attempts, Status                      int
	FirstTry, FailedAt                    time.Time
	Error                                 string
}

// WebhookFailures returns up to limit failures of a subscription (all when
// webhookID is empty) with ids below before (0: from the newest), newest first.
func (s *store) WebhookFailures(ctx context.Context, webhookID string, before int64, limit int) ([]failure, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT id, webhook_id::text, event_id, event_type, ticket_id, attempts, http_status,
			coalesce(first_try_at, failed_at), failed_at, error
		FROM webhook_deliveries
		WHERE failed_at IS NOT NULL AND ($1 = '' OR webhook_id = nullif($1, '')::uuid) AND ($2 = 0 OR id < $2)
		ORDER BY id DESC LIMIT $3`, webhookID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("read webhook failures: %w", err)
	}
	var out []failure
	var f failure
	_, err = pgx.ForEachRow(rows, []any{&f.ID, &f.WebhookID, &f.EventID, &f.EventType, &f.Ticket, &f.Attempts, &f.Status, &f.FirstTry, &f.FailedAt, &f.Error},
		func() error { out = append(out, f); return nil })
	if err != nil {
		return nil, fmt.Errorf("read webhook failures: %w", err)
	}
	return out, nil
}

// PurgeWebhookFailures removes failures given up on before cutoff.
func (s *store) PurgeWebhookFailures(ctx context.Context, cutoff time.Time) error {
	_, err := s.db.Q(ctx).Exec(ctx, `DELETE FROM webhook_deliveries WHERE failed_at < $1`, cutoff)
	return err
}

// QueueNotices queues the notices of tickets whose reporter left a phone
// number (test traffic never), with one statement, in the transaction ctx
// carries; a notice already queued for the same event is left as it is.
func (s *store) QueueNotices(ctx context.Context, ns []queuedNotice, now time.Time) error {
	evIDs, tickets, kinds := make([]string, len(ns)), make([]string, len(ns)), make([]string, len(ns))
	for i, n := range ns {
		evIDs[i], tickets[i], kinds[i] = n.EventID, n.TicketID, n.Kind
	}
	_, err := s.db.Q(ctx).Exec(ctx, `INSERT INTO notices (event_id, ticket_id, kind, next_at, created_at)
		SELECT u.event_id, u.ticket_id, u.kind, $4, $4
		FROM unnest($1::text[], $2::text[], $3::text[]) AS u(event_id, ticket_id, kind)
		JOIN tickets t ON t.id = u.ticket_id::uuid
		WHERE t.reporter_phone <> '' AND NOT t.synthetic AND NOT t.imported
		ON CONFLICT (event_id) DO NOTHING`, evIDs, tickets, kinds, now)
	if err != nil {
		return fmt.Errorf("queue %d notices: %w", len(ns), err)
	}
	return nil
}

// ClaimNotices takes up to limit due notices, leasing them until now+lease,
// with their ticket's number and reporter's phone; rows other replicas hold
// are skipped.
func (s *store) ClaimNotices(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]noticeToSend, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `UPDATE notices n
		SET leased_until = $1::timestamptz + $2::interval, attempts = n.attempts + 1
		FROM tickets t
		WHERE t.id = n.ticket_id::uuid AND n.id IN (
			SELECT id FROM notices WHERE failed_at IS NULL AND next_at <= $1 AND (leased_until IS NULL OR leased_until <= $1)
			ORDER BY next_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING n.id, n.attempts, n.created_at, n.kind, n.ticket_id, t.number, t.reporter_phone`, now, lease, limit)
	if err != nil {
		return nil, fmt.Errorf("claim notices: %w", err)
	}
	var out []noticeToSend
	var n noticeToSend
	_, err = pgx.ForEachRow(rows, []any{&n.ID, &n.Attempt, &n.Created, &n.Kind, &n.TicketID, &n.TicketNumber, &n.Phone},
		func() error { out = append(out, n); return nil })
	if err != nil {
		return nil, fmt.Errorf("claim notices: %w", err)
	}
	return out, nil
}

// SettleNotices records outcomes as SettleDeliveries does: the sent are
// removed, the others retried at their Next or kept as failed.
func (s *store) SettleNotices(ctx context.Context, ss []settlement, now time.Time) error {
	done, ids, next, errs := splitSettlements(ss)
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM notices WHERE id = ANY($1)`, done)
	b.Queue(`UPDATE notices n SET leased_until = NULL, error = u.error,
			next_at = coalesce(u.next, n.next_at), failed_at = CASE WHEN u.next IS NULL THEN $4::timestamptz END
		FROM unnest($1::bigint[], $2::timestamptz[], $3::text[]) AS u(id, next, error)
		WHERE n.id = u.id`, ids, next, errs, now)
	if err := s.db.Q(ctx).SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("settle %d notices: %w", len(ss), err)
	}
	return nil
}

// PurgeNotices removes notices given up on before cutoff.
func (s *store) PurgeNotices(ctx context.Context, cutoff time.Time) error {
	_, err := s.db.Q(ctx).Exec(ctx, `DELETE FROM notices WHERE failed_at < $1`, cutoff)
	return err
}
