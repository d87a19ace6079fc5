// Package stack assembles Whistle's services on PostgreSQL and JetStream: all
// five in one process behind one gRPC server (`whistle dev`, the end-to-end
// tests) or any one of them alone (`whistle serve <service>`). Each service
// gets its own database pool (bound to its schema, migrated at start), its
// own NATS connection and its own telemetry, exactly as when it runs alone.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/whistle-civic/whistle/pkg/audit"
	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/deadletter"
	"github.com/whistle-civic/whistle/pkg/evalcode"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
	"github.com/whistle-civic/whistle/pkg/health"
	"github.com/whistle-civic/whistle/pkg/orgtree"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/telemetry"
	"github.com/whistle-civic/whistle/services/dispatch"
	"github.com/whistle-civic/whistle/services/evaluation"
	"github.com/whistle-civic/whistle/services/intake"
	"github.com/whistle-civic/whistle/services/monitoring"
	"github.com/whistle-civic/whistle/services/response"
)

// Config says what to run and on what.
type Config struct {
	// Services to run, by name; empty runs all five.
	Services []string
	// DatabaseURL is the PostgreSQL all services use, each in its own schema.
	DatabaseURL string
	// Bus configures JetStream; Name is set per service, and Auth where
	// NATSAuth names the service.
	Bus bus.Config
	// NATSAuth gives each service, by name, the NATS credentials of its own
	// user, which may publish only what that service emits (see
	// bus.PublishAllow). A service not named logs in with Bus.Auth. Default
	// none: every service uses Bus.Auth.
	NATSAuth map[string]bus.Auth
	// NATSOptions are extra connect options (the in-process server's, in dev).
	NATSOptions []nats.Option
	// Telemetry returns a service's telemetry by its service.name
	// ("whistle-intake", …, and "whistle-api" for the shared gRPC server).
	// Default: telemetry.Setup from the OTEL_* variables.
	Telemetry func(ctx context.Context, serviceName string) (*telemetry.Telemetry, error)
	// Log is the process's logger.
	Log *slog.Logger
	// Clock for every service. Default: the real clock.
	Clock clock.Clock
	// Intake, Dispatch and Evaluation configure those services. Evaluation
	// counts its window in the dispatch catalog's calendar unless it names one.
	Intake     intake.Config
	Dispatch   dispatch.Config
	Evaluation evaluation.Config
	// Monitoring configures the monitoring service; it counts days in the
	// dispatch catalog's time zone unless it names one.
	Monitoring monitoring.Config
	// EvaluationCodes are the keys intake derives the residents' evaluation
	// codes with and evaluation checks them with (Intake.Codes and
	// Evaluation.Codes, unless those are set). Required when the stack runs
	// intake or evaluation: every replica of both must hold the same keys.
	EvaluationCodes *evalcode.Keys
	// Metrics, when set, receives every service's metrics for a Prometheus
	// /metrics endpoint (see telemetry.NewRegistry). Default: none.
	Metrics prometheus.Registerer
	// Auth establishes who calls (bearer tokens, client certificates, a
	// resident's code); every call is then authorized by pkg/policy. Nil
	// serves without authentication, which only tests of a stack may do
	// (Unauthenticated must say so).
	Auth *auth.Authenticator
	// Unauthenticated allows a nil Auth.
	Unauthenticated bool
	// ServerOptions are added to the gRPC server (TLS credentials).
	ServerOptions []grpc.ServerOption
	// Reflection serves gRPC reflection (see grpcserver.Options.Reflection).
	// Default off.
	Reflection bool
	// RateLimit limits each caller's mutating calls. Default: off.
	RateLimit grpcserver.RateLimit
	// Idle builds the services without starting their consumers and relays,
	// for one-off maintenance commands (see Stack.Service).
	Idle bool
	// PoolSize caps each service's database pool. Default 8.
	PoolSize int32
	// OutboxLagLimit is how old a service's oldest unpublished outbox event
	// may grow before its outbox health check fails. Default 60 s.
	OutboxLagLimit time.Duration
}

// Names lists the services in the order they start.
var Names = []string{intake.Name, dispatch.Name, response.Name, evaluation.Name, monitoring.Name}

// service is what the stack needs of each service.
type service interface {
	Register(grpc.ServiceRegistrar)
	Run(ctx context.Context) error
}

// apiKeyChecker is a service that takes API keys as credentials (intake).
type apiKeyChecker interface {
	KeyPrincipal(ctx context.Context, method, key string) (auth.Principal, error)
}

type spec struct {
	grpcName   string
	migrations func() fs.FS
	build      func(context.Context, platform.Deps, Config) (service, error)
}

var specs = map[string]spec{
	intake.Name: {"whistle.v1.IntakeService", intake.Migrations,
		func(_ context.Context, d platform.Deps, c Config) (service, error) {
			return intake.New(d, c.Intake), nil
		}},
	dispatch.Name: {"whistle.v1.DispatchService", dispatch.Migrations,
		func(ctx context.Context, d platform.Deps, c Config) (service, error) {
			return dispatch.New(ctx, d, c.Dispatch)
		}},
	response.Name: {"whistle.v1.ResponseService", response.Migrations,
		func(_ context.Context, d platform.Deps, _ Config) (service, error) { return response.New(d), nil }},
	evaluation.Name: {"whistle.v1.EvaluationService", evaluation.Migrations,
		func(_ context.Context, d platform.Deps, c Config) (service, error) {
			return evaluation.New(d, c.Evaluation)
		}},
	monitoring.Name: {"whistle.v1.MonitoringService", monitoring.Migrations,
		func(_ context.Context, d platform.Deps, c Config) (service, error) {
			return monitoring.New(d, c.Monitoring)
		}},
}

// Stack is a set of running services behind one gRPC server.
type Stack struct {
	// Server serves every API of the stack.
	Server *grpcserver.Server
	cfg    Config
	names  []string
	svcs   []service
	pools  []*postgres.DB
	trees  []*orgtree.Tree
	buses  []*bus.Bus
	tels   []*telemetry.Telemetry
	cancel context.CancelFunc
	wg     sync.WaitGroup
	errs   chan error
	// stopped makes Shutdown's work happen once; stopErr is its outcome.
	stopped sync.Once
	stopErr error
}

// Start connects, migrates and builds the services, registers their APIs and
// starts their background work (outbox relays and consumers). Serve the
// returned stack's Server on a listener; stop everything with Shutdown.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	cfg.defaults()
	names := cfg.Services
	if len(names) == 0 {
		names = Names
	}
	s := &Stack{cfg: cfg, errs: make(chan error, len(names))}
	apiTel, err := cfg.Telemetry(ctx, "whistle-api")
	if err != nil {
		return nil, err
	}
	s.tels = append(s.tels, apiTel)
	if cfg.Auth == nil && !cfg.Unauthenticated {
		return nil, errors.New("stack: no authentication configured (set WHISTLE_JWKS)")
	}
	if cfg.Intake.Codes == nil || cfg.Evaluation.Codes == nil {
		if slices.Contains(names, intake.Name) || slices.Contains(names, evaluation.Name) {
			return nil, errors.New("stack: no evaluation code keys (set WHISTLE_EVALUATION_CODE_KEYS to a key file: " +
				"`whistle keys evaluation-code FILE` makes one; intake and evaluation need the same)")
		}
	}
	if s.Server, err = grpcserver.New(grpcserver.Options{Log: cfg.Log, Telemetry: apiTel, Auth: cfg.Auth,
		ServerOptions: cfg.ServerOptions, RateLimit: cfg.RateLimit, OrgUnits: stackUnits{s},
		Reflection: cfg.Reflection}); err != nil {
		return nil, err
	}
	for _, name := range names {
		if err := s.add(ctx, name); err != nil {
			s.close(context.WithoutCancel(ctx))
			return nil, err
		}
	}
	// One audit log over the schemas of the services this stack runs (all in one database).
	audit.RegisterServer(s.Server.GRPC, audit.NewReader(s.pools[0].Pool, s.names...))
	// The dead letters of every consumer, in the JetStream all services share: any one connection reads
	// them; a replay goes through the connection of the service that emits the event.
	deadletter.RegisterServer(s.Server.GRPC, deadletter.Options{Services: s.locals(), Log: cfg.Log})
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	for i, svc := range s.svcs {
		if cfg.Idle {
			break
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := svc.Run(runCtx); err != nil {
				cfg.Log.Error("service stopped", "service", s.names[i], "err", err)
				s.errs <- fmt.Errorf("%s: %w", s.names[i], err)
			}
		}()
	}
	grpcNames := []string{audit.ServiceName, deadletter.ServiceName}
	for _, n := range s.names {
		grpcNames = append(grpcNames, specs[n].grpcName)
	}
	if !cfg.Idle {
		s.awaitOrgTree(ctx)
	}
	s.Server.SetServing(grpcNames...)
	return s, nil
}

// orgTreeWait bounds how long Start waits for the org tree to arrive.
const orgTreeWait = 30 * time.Second

// awaitOrgTree waits until every service holds the org tree (dispatch
// announces it when it starts; every service decides by it who may act
// where), so that the first calls are not turned away. A service started
// before dispatch ever ran stops waiting after 30 s; until the tree arrives
// it answers Unavailable.
func (s *Stack) awaitOrgTree(ctx context.Context) {
	deadline := time.Now().Add(orgTreeWait)
	for i, name := range s.names {
		for {
			var known bool
			err := s.pools[i].Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM org_units)`).Scan(&known)
			if err == nil && known {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				s.cfg.Log.Warn("no org tree yet: calls that need it answer Unavailable until dispatch announces it", "service", name)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// stackUnits answers the gRPC server's question whether a caller's org unit
// is in the active org tree from the tree of the stack's first service (all
// hold the same one, announced by dispatch).
type stackUnits struct{ s *Stack }

func (u stackUnits) Known(ctx context.Context, id string) (bool, error) {
	if len(u.s.trees) == 0 {
		return false, orgtree.ErrNotYetKnown
	}
	return u.s.trees[0].Known(ctx, id)
}

// Service returns the named service of the stack (a *monitoring.Service for
// "monitoring", …), or nil when the stack does not run it.
func (s *Stack) Service(name string) any {
	for i, n := range s.names {
		if n == name {
			return s.svcs[i]
		}
	}
	return nil
}

func (c *Config) defaults() {
	if c.Intake.Codes == nil {
		c.Intake.Codes = c.EvaluationCodes
	}
	if c.Evaluation.Codes == nil {
		c.Evaluation.Codes = c.EvaluationCodes
	}
	if c.Evaluation.Calendar.TimeZone == "" {
		cat := c.Dispatch.Catalog
		if cat == nil {
			cat, _ = dispatch.ParseCatalog(dispatch.SampleCatalog) // checked by the dispatch tests
		}
		if cat != nil {
			c.Evaluation.Calendar = cat.Calendar.Spec()
		}
	}
	if c.Monitoring.TimeZone == "" {
		c.Monitoring.TimeZone = c.Evaluation.Calendar.TimeZone
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Telemetry == nil {
		c.Telemetry = func(ctx context.Context, name string) (*telemetry.Telemetry, error) {
			return telemetry.Setup(ctx, telemetry.Options{ServiceName: name, Prometheus: c.Metrics})
		}
	}
}

// add connects, migrates and builds one service.
func (s *Stack) add(ctx context.Context, name string) error {
	sp, ok := specs[name]
	if !ok {
		return fmt.Errorf("unknown service %q: choose one of %v", name, Names)
	}
	log := s.cfg.Log.With("service", name)
	tel, err := s.cfg.Telemetry(ctx, "whistle-"+name)
	if err != nil {
		return err
	}
	s.tels = append(s.tels, tel)
	pc := postgres.Config{URL: s.cfg.DatabaseURL, Schema: name, MaxConns: s.cfg.PoolSize}
	if tel.ExportsSpans { // a span per statement costs CPU; made only when someone can see it
		pc.Tracer = tel.Tracer
	}
	db, err := postgres.Open(ctx, pc)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	s.pools = append(s.pools, db)
	if err := postgres.Migrate(ctx, db, sp.migrations(), log); err != nil {
		return err
	}
	bc := s.cfg.Bus
	bc.Name, bc.Log, bc.KeepStreamSettings = "whistle-"+name, log, !bus.UpdatesStreams(name)
	if a, ok := s.cfg.NATSAuth[name]; ok {
		bc.Auth = a
	}
	b, err := bus.Connect(ctx, bc, s.cfg.NATSOptions...)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	s.buses = append(s.buses, b)
	tree := orgtree.New(db)
	s.trees = append(s.trees, tree)
	svc, err := sp.build(ctx, platform.Deps{DB: db, Bus: b, Telemetry: tel, Log: log, Clock: s.cfg.Clock, OrgTree: tree}, s.cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	svc.Register(s.Server.GRPC)
	if k, ok := svc.(apiKeyChecker); ok && s.cfg.Auth != nil {
		s.cfg.Auth.APIKeys = k.KeyPrincipal // before serving: the Open311 systems' keys are intake's
	}
	s.names, s.svcs = append(s.names, name), append(s.svcs, svc)
	return nil
}

// locals are the stack's services as the DeadLetterService acts through them.
func (s *Stack) locals() []deadletter.Local {
	out := make([]deadletter.Local, len(s.names))
	for i, name := range s.names {
		out[i] = deadletter.Local{Name: name, Bus: s.buses[i], DB: s.pools[i]}
	}
	return out
}

// checked is a service with health checks of its own (dispatch's calendar).
type checked interface {
	HealthChecks() map[string]health.Check
}

// HealthChecks returns the health checks of every service the stack runs:
// "<service>.database" (SELECT 1 within 1 s), "<service>.nats" (connected),
// "<service>.outbox" (the oldest unpublished event younger than
// Config.OutboxLagLimit), and each service's own, such as
// "dispatch.calendar" (warns while the business calendar covers fewer than
// 60 days ahead). See pkg/health.
func (s *Stack) HealthChecks() map[string]health.Check {
	checks := map[string]health.Check{}
	for i, name := range s.names {
		checks[name+".database"] = health.Database(s.pools[i])
		checks[name+".nats"] = health.NATS(s.buses[i].Conn())
		checks[name+".outbox"] = health.Outbox(s.pools[i], s.cfg.OutboxLagLimit)
		if c, ok := s.svcs[i].(checked); ok {
			for own, check := range c.HealthChecks() {
				checks[name+"."+own] = check
			}
		}
	}
	return checks
}

// Health runs the stack's health checks at once.
func (s *Stack) Health(ctx context.Context) health.Report {
	var c health.Checker
	for name, check := range s.HealthChecks() {
		c.Add(name, check)
	}
	return c.Report(ctx)
}

// Errors reports services whose background work stopped with an error.
func (s *Stack) Errors() <-chan error { return s.errs }

// Shutdown stops the stack in order, each step bounded by timeout: the gRPC
// server (calls in flight finish), then the relays and consumers (the event
// in hand finishes), then the NATS connections, telemetry (flushing spans and
// collecting metrics a last time, which reads the database) and database pools.
// Only the first call does it; later ones return its outcome.
func (s *Stack) Shutdown(ctx context.Context, timeout time.Duration) error {
	s.stopped.Do(func() { s.stopErr = s.shutdown(ctx, timeout) })
	return s.stopErr
}

func (s *Stack) shutdown(ctx context.Context, timeout time.Duration) error {
	s.Server.Stop(timeout)
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		s.cfg.Log.Warn("services did not stop in time; closing their connections anyway", "timeout", timeout)
	}
	return s.close(ctx)
}

func (s *Stack) close(ctx context.Context) error {
	for _, b := range slices.Backward(s.buses) {
		b.Close()
	}
	var errs []error
	for _, t := range s.tels {
		errs = append(errs, t.Shutdown(ctx))
	}
	for _, db := range slices.Backward(s.pools) {
		db.Close()
	}
	return errors.Join(errs...)
}
