// Package evaluation is the evaluation service (评价/重办): every resolved
// ticket opens a round of evaluation; the reporting community (or the
// resident) judges it, and the verdict closes the ticket or sends it back to
// the same department for rework.
//
// Files: service.go wires the service; open.go, evaluate.go and list.go are
// its use cases over the plain values in evaluation.go; store.go
// (PostgreSQL), grpc.go (the API) and events.go (JetStream) are the adapters
// at its edges.
package evaluation

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/telemetry"
)

// Name is the service's name: its schema, consumer and telemetry name.
const Name = "evaluation"

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the evaluation schema's migrations.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

// Service is the evaluation service.
type Service struct {
	deps   platform.Deps
	store  rounds
	clock  clock.Clock
	log    *slog.Logger
	tracer trace.Tracer
}

// New builds the service on its dependencies.
func New(d platform.Deps) *Service {
	return &Service{deps: d, store: &store{db: d.DB}, clock: d.Clock, log: d.Log,
		tracer: d.Telemetry.Tracer.Tracer("whistle/" + Name)}
}

// Register adds the EvaluationService API to a gRPC server.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	whistlev1.RegisterEvaluationServiceServer(r, &grpcServer{svc: s})
}

// Run relays the outbox and consumes resolved and reported tickets, until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	return platform.Run(ctx, s.deps,
		platform.Consumer{Name: Name, EventTypes: []string{events.Resolved}, Apply: s.applyResolved},
		platform.Consumer{Name: Name + "-reporters", EventTypes: []string{events.Reported}, Apply: s.applyReported},
	)
}

// ticketSpan starts a span in the ticket's own trace, linked to the caller's.
func (s *Service) ticketSpan(ctx context.Context, name, ticketID string) (context.Context, trace.Span) {
	return telemetry.StartTicketSpan(ctx, s.tracer, name, s.store.TraceParent(ctx, ticketID))
}
