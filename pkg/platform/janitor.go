package platform

import (
	"context"
	"time"

	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/outbox"
	"github.com/whistle-civic/whistle/pkg/postgres"
)

// Retention of the platform tables.
const (
	// InboxRetention keeps a consumer's record of handled events long enough
	// to recognise any redelivery (JetStream redelivers unacknowledged events
	// within minutes; a replay of the stream is what reaches further back).
	InboxRetention = 7 * 24 * time.Hour
	// RequestRetention keeps the responses of idempotent calls for clients
	// that retry a day later.
	RequestRetention = 24 * time.Hour
)

// Purge is one kind of row a service deletes once it is past its retention.
type Purge struct {
	// Name says what is purged, for the log.
	Name string
	// Retention is how long rows are kept.
	Retention time.Duration
	// Delete deletes (a bounded batch of) the rows older than cutoff.
	Delete func(ctx context.Context, cutoff time.Time) error
}

// platformPurges are the platform tables' purges: handled events, stored
// responses, sent outbox rows.
func platformPurges(db *postgres.DB) []Purge {
	return []Purge{
		{Name: "inbox", Retention: InboxRetention, Delete: func(ctx context.Context, cutoff time.Time) error {
			_, err := db.Pool.Exec(ctx, `DELETE FROM inbox WHERE (consumer, event_id) IN (
				SELECT consumer, event_id FROM inbox WHERE processed_at < $1 LIMIT 10000)`, cutoff)
			return err
		}},
		{Name: "requests", Retention: RequestRetention, Delete: func(ctx context.Context, cutoff time.Time) error {
			_, err := db.Pool.Exec(ctx, `DELETE FROM requests WHERE (scope, request_id) IN (
				SELECT scope, request_id FROM requests WHERE created_at < $1 LIMIT 10000)`, cutoff)
			return err
		}},
		{Name: "outbox", Retention: outbox.Retention, Delete: func(ctx context.Context, cutoff time.Time) error {
			return outbox.Purge(ctx, db, cutoff)
		}},
	}
}

// janitor runs every purge once a minute, each with the cutoff its retention
// gives on d's clock, until ctx ends: the one purge loop of a service.
func janitor(ctx context.Context, d Deps, purges []Purge) error {
	clk := d.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		now := clk.Now()
		for _, p := range purges {
			if err := p.Delete(ctx, now.Add(-p.Retention)); err != nil && ctx.Err() == nil && d.Log != nil {
				d.Log.WarnContext(ctx, "purge failed; trying again in a minute", "purge", p.Name, "err", err)
			}
		}
	}
}
