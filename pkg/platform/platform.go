// Package platform holds what every Whistle service is built from (Deps) and
// runs the background half of a service: its outbox relay and its idempotent
// event consumers.
package platform

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/orgtree"
	"github.com/whistle-civic/whistle/pkg/outbox"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/telemetry"
	"github.com/whistle-civic/whistle/pkg/ticket"
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
	// OrgTree is the org tree kept in DB's schema, which decides who may act
	// where. Run keeps it current (consumer "<schema>-org"). Default (nil):
	// Run makes one, which only the service's background work then sees.
	OrgTree *orgtree.Tree
	// Purges are the service's own rows to delete past their retention,
	// besides the platform tables'; Run's janitor runs them all once a
	// minute. Default: none.
	Purges []Purge
}

// Tree returns d.OrgTree, made on first use when unset (set it in Deps so
// that the API and Run share one).
func (d *Deps) Tree() *orgtree.Tree {
	if d.OrgTree == nil {
		d.OrgTree = orgtree.New(d.DB)
	}
	return d.OrgTree
}

// Consumer is one of a service's event consumers: one durable consumer
// that receives its event types in stream order, and one inbox.
type Consumer struct {
	// Name is the durable consumer's and the inbox's name, e.g. "dispatch".
	Name string
	// EventTypes it receives; empty for all.
	EventTypes []string
	// Apply is the effect of one event (see inbox.ApplyFunc); Route makes it
	// of one function per event type.
	Apply inbox.ApplyFunc
	// ApplySet is the same effect for a whole batch (see inbox.SetFunc).
	// Default: none.
	ApplySet inbox.SetFunc
	// Partitions applies each batch in up to this many parts side by side,
	// split by ticket (see inbox.Processor): a service's effects must be safe
	// for different tickets at once, as they are already for replicas.
	// Default DefaultPartitions.
	Partitions int
	// Replaces names consumers whose work this one took over: their durable
	// consumers are deleted at start and this one's starts where they stood
	// (see bus.ConsumerConfig.Replaces). The service's migrations carry their
	// inbox rows over to Name (see the platform migration inbox_carry_over).
	Replaces []string
}

// Routes are a consumer's effects by event type.
type Routes = map[string]inbox.ApplyFunc

// Route makes a consumer's event types (sorted) and its apply function of
// one apply function per event type. An event of another type (which the
// bus does not deliver) is dead-lettered at once.
func Route(routes Routes) (types []string, apply inbox.ApplyFunc) {
	types = slices.Sorted(maps.Keys(routes))
	return types, func(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
		typ := events.TypeOf(ev)
		f, ok := routes[typ]
		if !ok {
			return 0, bus.Poison(fmt.Errorf("no effect for %q events: the consumer takes %s", typ, strings.Join(types, ", ")))
		}
		return f(ctx, ev)
	}
}

// DefaultPartitions is how many parts of a batch a consumer applies side by
// side unless told otherwise.
const DefaultPartitions = 4

// Run runs the service's outbox relay, its consumers, the consumer that keeps
// its org tree ("<schema>-org", see pkg/orgtree) and the janitor of the
// platform tables and d.Purges until ctx is cancelled.
// It returns nil then, or the first error that stopped one of them.
func Run(ctx context.Context, d Deps, consumers ...Consumer) error {
	g, ctx := errgroup.WithContext(ctx)
	relay := &outbox.Relay{DB: d.DB, Bus: d.Bus, Telemetry: d.Telemetry, Log: d.Log}
	g.Go(func() error { return relay.Run(ctx) })
	g.Go(func() error { return janitor(ctx, d, append(platformPurges(d.DB), d.Purges...)) })
	consumers = append(consumers, Consumer{Name: d.DB.Schema + "-org", EventTypes: []string{events.OrgTree}, Apply: d.Tree().Apply})
	for _, c := range consumers {
		if c.Partitions <= 0 {
			c.Partitions = DefaultPartitions
		}
		p := &inbox.Processor{DB: d.DB, Consumer: c.Name, Apply: c.Apply, ApplySet: c.ApplySet, Partitions: c.Partitions,
			Telemetry: d.Telemetry, Log: d.Log}
		cfg := bus.ConsumerConfig{Name: c.Name, EventTypes: c.EventTypes, Replaces: c.Replaces, Telemetry: d.Telemetry, Log: d.Log}
		g.Go(func() error { return d.Bus.ConsumeBatch(ctx, cfg, p.HandleBatch) })
	}
	return g.Wait()
}
