// Package platform holds what every Whistle service is built from (Deps) and
// runs the background half of a service: its outbox relay and its idempotent
// event consumers.
package platform

import (
	"context"
	"log/slog"

	"golang.org/x/sync/errgroup"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/outbox"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/telemetry"
)

// Deps are a service's connections and tools.
type Deps struct {
	// DB is the service's pool, bound to its own schema.
	DB *postgres.DB
	// Bus is the JetStream connection.
	Bus *bus.Bus
	// Telemetry is the service's tracer and meter providers.
	Telemetry *telemetry.Telemetry
	// Log is the service's logger.
	Log *slog.Logger
	// Clock tells the time; tests pass a clock.Fake.
	Clock clock.Clock
}

// Consumer is one of a service's event consumers.
type Consumer struct {
	// Name is the durable consumer's and the inbox's name, e.g. "dispatch".
	Name string
	// EventTypes it receives; empty for all.
	EventTypes []string
	// Apply is the effect of one event (see inbox.ApplyFunc).
	Apply inbox.ApplyFunc
}

// Run runs the service's outbox relay, its consumers and the janitor of the
// platform tables until ctx is cancelled.
// It returns nil then, or the first error that stopped one of them.
func Run(ctx context.Context, d Deps, consumers ...Consumer) error {
	g, ctx := errgroup.WithContext(ctx)
	relay := &outbox.Relay{DB: d.DB, Bus: d.Bus, Telemetry: d.Telemetry, Log: d.Log}
	g.Go(func() error { return relay.Run(ctx) })
	g.Go(func() error { return janitor(ctx, d.DB) })
	for _, c := range consumers {
		p := &inbox.Processor{DB: d.DB, Consumer: c.Name, Apply: c.Apply, Telemetry: d.Telemetry, Log: d.Log}
		cfg := bus.ConsumerConfig{Name: c.Name, EventTypes: c.EventTypes, Telemetry: d.Telemetry, Log: d.Log}
		g.Go(func() error { return d.Bus.ConsumeBatch(ctx, cfg, p.HandleBatch) })
	}
	return g.Wait()
}
