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
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/whistle-civic/whistle/pkg/calendar"
	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/evalcode"
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

// Config is the evaluation service's own configuration.
type Config struct {
	// WindowDays is how many working days a round stays open for a verdict.
	// Default 5.
	WindowDays int
	// DefaultVerdict closes a round nobody judged in time: satisfied or
	// basically satisfied. Default satisfied; it is recorded as a default.
	DefaultVerdict Verdict
	// MaxReworks is how many reworks an unsatisfied verdict may ask for before
	// it also raises the ticket's supervision. Default 2.
	MaxReworks int32
	// Calendar counts the window's working days. Default calendar.Default.
	Calendar calendar.Spec
	// SchedulerEvery is how often expired windows are closed. Default 1 s.
	SchedulerEvery time.Duration
	// Codes check the residents' evaluation codes (intake hands them out
	// with the same keys). Default (nil): no resident can judge with a code
	// (ErrCodesOff); the community and the hotline still can.
	Codes *evalcode.Keys
	// MaxCodeFailures is how many wrong codes may be tried on one ticket
	// before its code is locked (ErrCodeLocked). Default 5.
	MaxCodeFailures int32
	// CallBackShare is the share of closed tickets drawn at random, at their
	// close, for a hotline call-back of the reporter (回访抽查; monitoring
	// lists them and counts the audited satisfaction rate). Default 0.1;
	// negative draws none; 1 or more draws every one.
	CallBackShare float64
}

// Service is the evaluation service.
type Service struct {
	deps   platform.Deps
	store  rounds
	cfg    Config
	window calendar.Clock
	clock  clock.Clock
	log    *slog.Logger
	tracer trace.Tracer
	// traces remembers each ticket's trace for the calls on it.
	traces *telemetry.TraceParents
}

// New builds the service on its dependencies. It fails on a calendar that
// does not check out or a default verdict that would not close.
func New(d platform.Deps, cfg Config) (*Service, error) {
	if cfg.WindowDays == 0 {
		cfg.WindowDays = 5
	}
	if cfg.DefaultVerdict == 0 {
		cfg.DefaultVerdict = Satisfied
	}
	if !cfg.DefaultVerdict.Satisfied() {
		return nil, fmt.Errorf("evaluation: the default verdict must close a ticket (satisfied or basically satisfied)")
	}
	if cfg.MaxReworks == 0 {
		cfg.MaxReworks = 2
	}
	if cfg.MaxCodeFailures == 0 {
		cfg.MaxCodeFailures = 5
	}
	if cfg.CallBackShare == 0 {
		cfg.CallBackShare = 0.1
	}
	if cfg.SchedulerEvery == 0 {
		cfg.SchedulerEvery = time.Second
	}
	if cfg.Calendar.TimeZone == "" {
		cfg.Calendar = calendar.Default
	}
	cal, err := calendar.New(cfg.Calendar)
	if err != nil {
		return nil, fmt.Errorf("evaluation calendar: %w", err)
	}
	st := &store{db: d.DB}
	return &Service{deps: d, store: st, cfg: cfg, window: calendar.Clock{Cal: cal}, clock: d.Clock,
		log: d.Log, tracer: d.Telemetry.Tracer.Tracer("whistle/" + Name), traces: telemetry.NewTraceParents(0, st.TraceParent)}, nil
}

// Register adds the EvaluationService API to a gRPC server.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	whistlev1.RegisterEvaluationServiceServer(r, &grpcServer{svc: s})
}

// Run relays the outbox, consumes resolved tickets and who reported them and
// where they lie, and closes rounds whose window passed, until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return platform.Run(ctx, s.deps, s.consumer())
	})
	g.Go(func() error { return s.runWindows(ctx, s.cfg.SchedulerEvery) })
	return g.Wait()
}

// ticketSpan starts a span in the ticket's own trace, linked to the caller's.
func (s *Service) ticketSpan(ctx context.Context, name, ticketID string) (context.Context, trace.Span) {
	return telemetry.StartTicketSpan(ctx, s.tracer, name, s.traces.Get(ctx, ticketID))
}
