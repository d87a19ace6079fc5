package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"

	"github.com/whistle-civic/whistle/pkg/backoff"
	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/telemetry"
)

// Relay publishes committed outbox rows to JetStream. Any number of relays
// may run against one schema (one per replica): each claims a batch of unsent
// rows with FOR UPDATE SKIP LOCKED, publishes them asynchronously with
// Nats-Msg-Id set to the event id, waits for every ack and marks the acked
// rows sent, all before releasing its claim. A relay that dies between
// publishing and marking leaves the rows unsent; they are published again and
// JetStream's duplicate window drops the copies, and consumers deduplicate on
// the event id as well.
//
// An event no retry can publish (larger than the server or the stream takes)
// never holds up the events behind it: the relay dead-letters it with its
// reason to "<prefix>.dlq.outbox-<schema>", where `whistlectl dead-letters
// list` shows it, and settles its row in the same transaction (dead_reason,
// dead_letter_seq); one too large for a dead letter as well stays in its row,
// which is then never purged. Each is counted by whistle.outbox.dead_lettered.
type Relay struct {
	// DB is the service's database; its schema's outbox is relayed.
	DB *postgres.DB
	// Bus is where events go.
	Bus *bus.Bus
	// Batch is how many rows one claim takes. Default 256.
	Batch int
	// Poll is the fallback interval between looks at the outbox when no
	// notification arrives. Default 1 s.
	Poll time.Duration
	// Telemetry for spans and metrics. Default: none.
	Telemetry *telemetry.Telemetry
	// Log receives failures. Default: discard.
	Log *slog.Logger

	published, dead metric.Int64Counter
}

func (r *Relay) defaults() {
	if r.Batch == 0 {
		r.Batch = 256
	}
	if r.Poll == 0 {
		r.Poll = time.Second
	}
	if r.Telemetry == nil {
		r.Telemetry = telemetry.Noop()
	}
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
}

// Run relays until ctx is cancelled, then returns nil. It wakes on the
// schema's LISTEN/NOTIFY channel "<schema>_outbox" and, as a fallback, every
// Poll; on failure it backs off up to 10 s and tries again.
func (r *Relay) Run(ctx context.Context) error {
	r.defaults()
	if err := r.instruments(); err != nil {
		return err
	}
	wake := make(chan struct{}, 1)
	go r.listen(ctx, wake)
	poll := time.NewTicker(r.Poll)
	defer poll.Stop()
	failures := 0
	for {
		_, settled, err := r.flush(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			failures++
			delay := backoff.Delay(failures, 250*time.Millisecond, 10*time.Second)
			r.Log.Warn("outbox relay failed; retrying", "schema", r.DB.Schema, "err", err, "retry_in", delay)
			if !clock.Sleep(ctx, delay) {
				return nil
			}
			continue
		case settled == r.Batch:
			failures = 0
			continue // more may be waiting
		}
		failures = 0
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-poll.C:
		}
	}
}

// Flush publishes one batch of unsent rows and returns how many were
// published and marked sent. Rows that cannot be published are dead-lettered
// and settled in the same transaction (see Relay); they are not counted and
// are no error.
func (r *Relay) Flush(ctx context.Context) (int, error) {
	sent, _, err := r.flush(ctx)
	return sent, err
}

// flush is Flush, also returning how many rows it settled: sent or dead.
func (r *Relay) flush(ctx context.Context) (sent, settled int, err error) {
	r.defaults()
	var pubErr error
	err = r.DB.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := claim(ctx, tx, r.Batch)
		if err != nil || len(rows) == 0 {
			return err
		}
		ids, dead, err := r.publish(ctx, rows)
		pubErr = err
		if err := r.bury(ctx, tx, dead); err != nil {
			return err
		}
		sent, settled = len(ids), len(ids)+len(dead)
		if len(ids) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE outbox SET sent_at = now() WHERE id = ANY($1)`, ids); err != nil {
			return fmt.Errorf("mark %d outbox rows sent: %w", len(ids), err)
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return sent, settled, pubErr
}

type row struct {
	id        int64
	eventID   string
	eventType string
	payload   []byte
	headers   map[string]string
}

func claim(ctx context.Context, tx pgx.Tx, limit int) ([]row, error) {
	rs, err := tx.Query(ctx, `SELECT id, event_id::text, event_type, payload, headers FROM outbox
		WHERE sent_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, limit)
	if err != nil {
		return nil, fmt.Errorf("claim outbox rows: %w", err)
	}
	return pgx.CollectRows(rs, func(rw pgx.CollectableRow) (row, error) {
		var out row
		var h []byte
		if err := rw.Scan(&out.id, &out.eventID, &out.eventType, &out.payload, &h); err != nil {
			return out, err
		}
		return out, json.Unmarshal(h, &out.headers)
	})
}

// publish sends rows asynchronously, in order, and returns the ids of those
// acked and the rows no retry can publish (see unpublishable).
func (r *Relay) publish(ctx context.Context, rows []row) ([]int64, []deadRow, error) {
	js := r.Bus.JetStream()
	tracer := r.Telemetry.Tracer.Tracer("whistle/outbox")
	futures := make([]jetstream.PubAckFuture, len(rows))
	msgs := make([]*nats.Msg, len(rows))
	var errs []error
	var dead []deadRow
	failed := func(i int, err error) {
		if reason := unpublishable(err, msgs[i], r.Bus.Conn().MaxPayload()); reason != "" {
			dead = append(dead, deadRow{row: rows[i], msg: msgs[i], reason: reason})
			return
		}
		errs = append(errs, fmt.Errorf("publish %s %s: %w", rows[i].eventType, rows[i].eventID, err))
	}
	for i, rw := range rows {
		subject := r.Bus.Subject(rw.eventType)
		pctx := telemetry.Extract(ctx, propagation.MapCarrier(rw.headers))
		name, opts := telemetry.PublishSpan(subject, rw.eventID)
		pctx, span := tracer.Start(pctx, name, opts...)
		msg := &nats.Msg{Subject: subject, Data: rw.payload, Header: nats.Header{}}
		telemetry.Propagator.Inject(pctx, telemetry.HeaderCarrier(msg.Header))
		span.End()
		msgs[i] = msg
		f, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(rw.eventID), jetstream.WithExpectStream(r.Bus.Stream()))
		if err != nil {
			failed(i, err)
			continue
		}
		futures[i] = f
	}
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	var ids []int64
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case <-f.Ok():
			ids = append(ids, rows[i].id)
		case err := <-f.Err():
			failed(i, err)
		case <-timeout.C:
			errs = append(errs, fmt.Errorf("publish: no ack from JetStream within 10 s for %d events", len(futures)-i))
			return ids, dead, errors.Join(errs...)
		case <-ctx.Done():
			return ids, dead, ctx.Err()
		}
	}
	if r.published != nil {
		r.published.Add(ctx, int64(len(ids)))
	}
	return ids, dead, errors.Join(errs...)
}

// Retention is how long sent outbox rows, and dead rows whose event a dead
// letter holds, are kept before Purge deletes them.
const Retention = time.Hour

// Purge deletes up to 10,000 outbox rows sent before cutoff (see Retention);
// a dead row holding the only copy of its event is never deleted. The
// platform's janitor runs it every minute.
func Purge(ctx context.Context, db *postgres.DB, cutoff time.Time) error {
	_, err := db.Pool.Exec(ctx, `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox
		WHERE sent_at < $1 AND (dead_reason IS NULL OR dead_letter_seq IS NOT NULL) LIMIT 10000)`, cutoff)
	return err
}

// listen signals wake whenever the outbox channel is notified, and once after
// every (re)connection, since notifications sent while it was away are lost.
func (r *Relay) listen(ctx context.Context, wake chan<- struct{}) {
	postgres.Listener{DB: r.DB, Channels: []string{Channel(r.DB.Schema)}, Log: r.Log,
		Notify: func(string, string) { signal(wake) }, Connected: func() { signal(wake) }}.Run(ctx)
}

func signal(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
