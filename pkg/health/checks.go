package health

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/whistle-civic/whistle/pkg/postgres"
)

// DatabaseTimeout bounds the database check's query.
const DatabaseTimeout = time.Second

// Database checks that the service's database answers SELECT 1 within
// DatabaseTimeout. Value: the round trip in seconds.
func Database(db *postgres.DB) Check {
	return func(ctx context.Context) (CheckResult, error) {
		ctx, cancel := context.WithTimeout(ctx, DatabaseTimeout)
		defer cancel()
		start := time.Now()
		var one int
		err := db.Pool.QueryRow(ctx, `SELECT 1`).Scan(&one)
		res := CheckResult{Value: time.Since(start).Seconds()}
		if err != nil {
			return res, postgres.AsUnavailable(err)
		}
		res.Detail = fmt.Sprintf("answered in %s", time.Since(start).Round(time.Microsecond))
		return res, nil
	}
}

// NATS checks that the connection to NATS is up (not reconnecting or
// closed). Value: how many times it has reconnected.
func NATS(nc *nats.Conn) Check {
	return func(context.Context) (CheckResult, error) {
		res := CheckResult{Value: float64(nc.Stats().Reconnects)}
		if st := nc.Status(); st != nats.CONNECTED {
			return res, fmt.Errorf("NATS %s: events wait in the outboxes and consumers pause until it is back", st)
		}
		res.Detail = "connected to " + nc.ConnectedUrlRedacted()
		return res, nil
	}
}

// DefaultOutboxLagLimit is how old the oldest unsent outbox event may grow
// before the outbox check fails, when no limit is given.
const DefaultOutboxLagLimit = 60 * time.Second

// Outbox checks the outbox lag of the service's schema: how many committed
// events wait to be published and how long the oldest has waited. It fails
// when that age passes limit (0: DefaultOutboxLagLimit). Value: the oldest
// unsent event's age in seconds (0 when none waits).
func Outbox(db *postgres.DB, limit time.Duration) Check {
	if limit <= 0 {
		limit = DefaultOutboxLagLimit
	}
	return func(ctx context.Context) (CheckResult, error) {
		var pending int64
		var oldest float64
		err := db.Pool.QueryRow(ctx, `SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
			FROM outbox WHERE sent_at IS NULL`).Scan(&pending, &oldest)
		if err != nil {
			return CheckResult{}, fmt.Errorf("read the outbox: %w", postgres.AsUnavailable(err))
		}
		res := CheckResult{Value: oldest, Detail: fmt.Sprintf("%d events waiting, the oldest for %.1f s", pending, oldest)}
		if oldest > limit.Seconds() {
			return res, fmt.Errorf("%d events waiting, the oldest for %.1f s (limit %s): the relay cannot publish them; is NATS reachable?",
				pending, oldest, limit)
		}
		return res, nil
	}
}
