package platform

import (
	"context"
	"time"

	"github.com/whistle-civic/whistle/pkg/postgres"
)

// Retention of the platform tables; sent outbox rows are purged by the relay.
const (
	// InboxRetention keeps a consumer's record of handled events long enough
	// to recognise any redelivery (JetStream redelivers unacknowledged events
	// within minutes; a replay of the stream is what reaches further back).
	InboxRetention = 7 * 24 * time.Hour
	// RequestRetention keeps the responses of idempotent calls for clients
	// that retry a day later.
	RequestRetention = 24 * time.Hour
)

// janitor deletes inbox and request rows past their retention, every minute,
// in small batches.
func janitor(ctx context.Context, db *postgres.DB) error {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		now := time.Now()
		_, _ = db.Pool.Exec(ctx, `DELETE FROM inbox WHERE (consumer, event_id) IN (
			SELECT consumer, event_id FROM inbox WHERE processed_at < $1 LIMIT 10000)`, now.Add(-InboxRetention))
		_, _ = db.Pool.Exec(ctx, `DELETE FROM requests WHERE (scope, request_id) IN (
			SELECT scope, request_id FROM requests WHERE created_at < $1 LIMIT 10000)`, now.Add(-RequestRetention))
	}
}
