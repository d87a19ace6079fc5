// Package monitoring is the monitoring service (监测): it projects every
// whistle event into read models — each ticket's state and timeline, and live
// counts per status — applying one ticket's events strictly in version order.
//
// Files: service.go wires the service; project.go and query.go are its use
// cases over the plain values in projection.go; store.go (PostgreSQL),
// grpc.go (the API) and events.go (JetStream) are the adapters at its edges.
package monitoring

import (
	"context"
	"embed"
	"io/fs"

	"google.golang.org/grpc"

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

// Service is the monitoring service.
type Service struct {
	deps  platform.Deps
	store projections
}

// New builds the service on its dependencies.
func New(d platform.Deps) *Service {
	return &Service{deps: d, store: &store{db: d.DB}}
}

// Register adds the MonitoringService API to a gRPC server.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	whistlev1.RegisterMonitoringServiceServer(r, &grpcServer{svc: s})
}

// Run relays the outbox and projects every event, until ctx ends. One
// consumer receives all events in stream order, which already respects each
// ticket's version order.
func (s *Service) Run(ctx context.Context) error {
	return platform.Run(ctx, s.deps, platform.Consumer{Name: Name, Apply: s.applyEvent})
}
