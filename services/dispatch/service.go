// Package dispatch is the dispatch service (派单与督办): it routes each reported
// ticket to the responsible department by the matter catalog and org tree,
// sends what it cannot route to triage, and follows every ticket it routed.
//
// Files: service.go wires the service; dispatch.go (route a reported ticket),
// follow.go (record moves made elsewhere) and get.go are its use cases over
// the plain values in assignment.go, catalog.go and route.go; catalog_yaml.go
// reads catalogs; store.go (PostgreSQL), grpc.go (the API) and events.go
// (JetStream) are the adapters at its edges.
package dispatch

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"sync/atomic"

	"google.golang.org/grpc"

	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/platform"
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
	// Catalog is the catalog to route by. Default: the sample catalog.
	Catalog *Catalog
}

// Service is the dispatch service.
type Service struct {
	deps    platform.Deps
	store   assignments
	catalog atomic.Pointer[Catalog]
	clock   clock.Clock
	log     *slog.Logger
}

// New builds the service. It fails only if the default sample catalog does
// not parse, which the tests rule out.
func New(d platform.Deps, cfg Config) (*Service, error) {
	s := &Service{deps: d, store: &store{db: d.DB}, clock: d.Clock, log: d.Log}
	c := cfg.Catalog
	if c == nil {
		var err error
		if c, err = ParseCatalog(SampleCatalog); err != nil {
			return nil, err
		}
	}
	s.catalog.Store(c)
	return s, nil
}

// Register adds the DispatchService API to a gRPC server.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	whistlev1.RegisterDispatchServiceServer(r, &grpcServer{svc: s})
}

// Run relays the outbox and consumes reported tickets and the moves other
// services make on them, until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	return platform.Run(ctx, s.deps,
		platform.Consumer{Name: Name, EventTypes: []string{events.Reported}, Apply: s.applyReported},
		platform.Consumer{Name: Name + "-follow", EventTypes: followed, Apply: s.applyFollowed},
	)
}
