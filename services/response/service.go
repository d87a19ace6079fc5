// Package response is the response service (应哨/办结): each department's
// inbox of dispatched tickets, and the work departments do on them — report in
// (accept), note progress (and pause the clock), ask for more time, return
// what is not theirs, resolve, and rework what evaluation sent back.
//
// Files: service.go wires the service; receive.go, accept.go, resolve.go,
// return.go, progress.go, rework.go and list.go are its use cases over the
// plain values in item.go;
// store.go (PostgreSQL), grpc.go (the API) and events.go (JetStream) are the
// adapters at its edges.
package response

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	"github.com/whistle-civic/whistle/pkg/clock"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/telemetry"
)

// Name is the service's name: its schema, consumer and telemetry name.
const Name = "response"

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the response schema's migrations.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

// Service is the response service.
type Service struct {
	deps      platform.Deps
	store     inbox
	purge     func(ctx context.Context, cutoff time.Time) error
	hub       *hub
	watchPoll time.Duration
	// kick asks the inbox change sequencer to run (see runSequencer).
	kick   chan struct{}
	clock  clock.Clock
	log    *slog.Logger
	tracer trace.Tracer
	// traces remembers each ticket's trace for the calls on it.
	traces *telemetry.TraceParents
}

// New builds the service on its dependencies.
func New(d platform.Deps) *Service {
	st := &store{db: d.DB}
	return &Service{deps: d, store: st, purge: st.Purge, hub: newHub(), kick: make(chan struct{}, 1), watchPoll: 2 * time.Second,
		clock: d.Clock, log: d.Log, tracer: d.Telemetry.Tracer.Tracer("whistle/" + Name),
		traces: telemetry.NewTraceParents(0, st.TraceParent)}
}

// Register adds the ResponseService API to a gRPC server.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	whistlev1.RegisterResponseServiceServer(r, &grpcServer{svc: s})
}

// Run relays the outbox, consumes dispatched, arbitrated, reopened and
// finished tickets and dispatch's notes on supervision, and wakes inbox
// watchers when their inbox changes, until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	go func() { _ = s.runHub(ctx) }()
	d := s.deps
	d.Purges = append(d.Purges, platform.Purge{Name: "inbox changes", Retention: ChangeRetention, Delete: s.purge})
	return platform.Run(ctx, d, s.consumer())
}

// ticketSpan starts a span in the ticket's own trace, linked to the caller's.
func (s *Service) ticketSpan(ctx context.Context, name, ticketID string) (context.Context, trace.Span) {
	return telemetry.StartTicketSpan(ctx, s.tracer, name, s.traces.Get(ctx, ticketID))
}
