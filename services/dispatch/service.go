// Package dispatch is the dispatch service (派单与督办): it routes each reported
// ticket to the responsible department by a versioned catalog (org tree,
// departments, matter catalog, business calendar), sends what it cannot route
// to a person, supervises deadlines in working time with durable timers,
// re-routes or arbitrates returned tickets, and decides extensions.
//
// Files: service.go wires the service. Use cases: dispatch.go (route a
// reported ticket), follow.go (moves and notes from elsewhere), apply_set.go
// (a batch of events at once), triage.go (dispatch by hand, reject),
// arbitrate.go, extension.go, escalate.go (the deadline scheduler),
// explain.go, catalog_admin.go (import, activate, diff), calendar_revise.go
// (a calendar's next year, its coverage check and gauge). Plain values and
// rules: assignment.go, catalog.go, calendar.go, window.go, route.go,
// diff.go. Adapters: store.go, store_set.go and catalog_store.go
// (PostgreSQL), catalog_yaml.go and calendar_yaml.go, grpc.go (the API) and
// events.go (JetStream).
package dispatch

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/whistle-civic/whistle/pkg/clock"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/telemetry"
)

// Name is the service's name: its schema, consumer and telemetry name.
const Name = "dispatch"

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the dispatch schema's migrations.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

// Config is the dispatch service's own configuration.
type Config struct {
	// Catalog is stored at start unless its version is stored already, and
	// activated when no catalog is active. Default: the sample catalog.
	Catalog *Catalog
	// MaxReturns is how often a ticket may be returned before it goes straight
	// to arbitration. Default 2.
	MaxReturns int32
	// SchedulerEvery is how often due deadlines are checked. Default 1 s.
	SchedulerEvery time.Duration
	// CatalogPoll is how often the active catalog is re-read besides the
	// notifications other replicas send. Default 30 s.
	CatalogPoll time.Duration
}

// Service is the dispatch service.
type Service struct {
	deps       platform.Deps
	store      assignments
	cats       catalogs
	watch      func(ctx context.Context, poll time.Duration, reload func(context.Context) error)
	active     atomic.Pointer[Catalog]
	cache      sync.Map // version → *Catalog
	cfg        Config
	maxReturns int32
	clock      clock.Clock
	log        *slog.Logger
	tracer     trace.Tracer
	traces     func(ctx context.Context, ticketID string) string
}

// New builds the service and loads its catalog: the configured one is stored
// if new and activated if none is active yet; the active one is routed by.
func New(ctx context.Context, d platform.Deps, cfg Config) (*Service, error) {
	if cfg.MaxReturns == 0 {
		cfg.MaxReturns = 2
	}
	if cfg.SchedulerEvery == 0 {
		cfg.SchedulerEvery = time.Second
	}
	if cfg.CatalogPoll == 0 {
		cfg.CatalogPoll = 30 * time.Second
	}
	st := &store{db: d.DB}
	s := &Service{deps: d, store: st, cats: st, watch: st.watchCatalog, cfg: cfg, maxReturns: cfg.MaxReturns,
		clock: d.Clock, log: d.Log, tracer: d.Telemetry.Tracer.Tracer("whistle/" + Name), traces: st.TraceParent}
	seed := cfg.Catalog
	if seed == nil {
		var err error
		if seed, err = ParseCatalog(SampleCatalog); err != nil {
			return nil, err
		}
	}
	if err := s.installSeed(ctx, seed); err != nil {
		return nil, err
	}
	if err := s.instruments(); err != nil {
		return nil, err
	}
	return s, nil
}

// Register adds the DispatchService API to a gRPC server.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	whistlev1.RegisterDispatchServiceServer(r, &grpcServer{svc: s})
}

// Run relays the outbox, consumes reported tickets and what other services
// do to them, fires due deadlines and follows catalog changes, until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return platform.Run(ctx, s.deps, s.consumer())
	})
	g.Go(func() error { return s.runScheduler(ctx, s.cfg.SchedulerEvery) })
	g.Go(func() error { s.watch(ctx, s.cfg.CatalogPoll, s.reloadActive); return nil })
	return g.Wait()
}

// ticketSpan starts a span in the ticket's own trace, linked to the caller's.
func (s *Service) ticketSpan(ctx context.Context, name, ticketID string) (context.Context, trace.Span) {
	return telemetry.StartTicketSpan(ctx, s.tracer, name, s.traces(ctx, ticketID))
}
