// Package monitoring is the monitoring service (监测): it projects every
// whistle event into read models — each ticket's state and timeline, live
// counts, and the figures every department and area is assessed by (response,
// resolution, on-time, closing, satisfaction and rework rates, stage times) —
// ranks units, lists what is overdue, and finds recurring problems to solve
// before anyone complains (未诉先办). The read models can be rebuilt from
// scratch by replaying the event stream.
//
// Files: service.go wires the service; project.go, score.go (the counting
// rules), hotspot.go, query.go and rebuild.go are its use cases over the
// plain values in projection.go and figures.go; store.go, figures_store.go
// and hotspot_store.go (PostgreSQL), grpc.go (the API), events.go (JetStream),
// watch.go (live feed) and metrics.go (Prometheus) are the adapters at its edges.
package monitoring

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	_ "time/tzdata" // the city's zone without relying on the machine's

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/platform"
)

// Name is the service's name: its schema, consumer and telemetry name.
const Name = "monitoring"

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the monitoring schema's migrations.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

// Config is the monitoring service's own configuration.
type Config struct {
	// TimeZone is the city's IANA time zone: days, weeks and months of the
	// figures are counted in it. Default "Asia/Shanghai"; the stack passes
	// the dispatch catalog's.
	TimeZone string
	// HotSpots sets the hot spot rules' thresholds (defaults in HotSpotConfig).
	HotSpots HotSpotConfig
	// Partitions is how many parts of each batch of events are projected side
	// by side, split by ticket (each ticket's events in one part, in order).
	// Default 4.
	Partitions int
	// SatisfactionGap flags units whose evaluated satisfaction outruns the
	// call-backs' (defaults in GapRule).
	SatisfactionGap GapRule
}

// Service is the monitoring service.
type Service struct {
	deps  platform.Deps
	cfg   Config
	loc   *time.Location
	log   *slog.Logger
	store projections
	figs  figureReader
	hot   hotSpotStore
	reset resetter
	feed  *feed
	// updates reads the entries of a period (ListUpdates).
	updates updatesReader
	calls   callBackStore
}

// New builds the service on its dependencies. It fails when the time zone is
// unknown.
func New(d platform.Deps, cfg Config) (*Service, error) {
	if cfg.TimeZone == "" {
		cfg.TimeZone = "Asia/Shanghai"
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = 4
	}
	loc, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("monitoring time zone %q (want an IANA name such as Asia/Shanghai): %w", cfg.TimeZone, err)
	}
	cfg.HotSpots.defaults()
	cfg.SatisfactionGap.defaults()
	st := &store{db: d.DB}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{deps: d, cfg: cfg, loc: loc, log: log, store: st, figs: st, hot: st, reset: st, feed: newFeed(), updates: st, calls: st}
	if err := s.instruments(); err != nil {
		return nil, err
	}
	return s, nil
}

// Register adds the MonitoringService API to a gRPC server.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	whistlev1.RegisterMonitoringServiceServer(r, &grpcServer{svc: s, places: s.deps.Tree()})
}

// Run relays the outbox, projects every event and scans for hot spots
// (every HotSpots.Scan.Every), until ctx ends. One consumer receives all
// events in stream order, which already respects each ticket's version order.
func (s *Service) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return platform.Run(ctx, s.deps, platform.Consumer{Name: Name, Apply: s.applyEvent,
			ApplySet: s.applyEvents, Partitions: s.cfg.Partitions})
	})
	g.Go(func() error { s.runScan(ctx); return nil })
	return g.Wait()
}
