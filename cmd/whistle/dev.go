package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/whistle-civic/whistle/pkg/evalcode"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
	"github.com/whistle-civic/whistle/pkg/health"
	"github.com/whistle-civic/whistle/pkg/pgserver"
	"github.com/whistle-civic/whistle/pkg/telemetry"

	"github.com/whistle-civic/whistle/cmd/internal/bench"
	"github.com/whistle-civic/whistle/cmd/internal/console"
	"github.com/whistle-civic/whistle/cmd/internal/stack"
)

type devOptions struct {
	addr, data string
	// logFormat is "auto" (on a terminal: JSON logs to <data>/dev.log and a
	// summary on the terminal; elsewhere JSON on stderr) or "json" (JSON on
	// stderr always).
	logFormat string
}

// devMetricsAddr is where `whistle dev` serves /metrics by default.
const devMetricsAddr = "127.0.0.1:9100"

// devDatabase is the database `whistle dev` creates on its private server.
const devDatabase = "whistle"

// runDev runs all five services until ctx ends, then stops them, the
// in-process NATS server and the private PostgreSQL, in that order.
func runDev(ctx context.Context, cfg config, o devOptions, out io.Writer) error {
	if err := os.MkdirAll(o.data, 0o755); err != nil {
		return fmt.Errorf("create data folder %s: %w (pass another --data)", o.data, err)
	}
	logFile := ""
	if o.logFormat != "json" && cfg.logTo == nil && onTerminal(os.Stderr) {
		logFile = filepath.Join(o.data, "dev.log")
		f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("open the log file %s: %w (or pass --log-format json for the logs on stderr)", logFile, err)
		}
		defer f.Close()
		cfg.logTo = f
	}
	log, err := cfg.logger()
	if err != nil {
		return err
	}
	defer os.Remove(filepath.Join(o.data, "endpoints.json"))
	if cfg.MediaDir == "" && cfg.S3Endpoint == "" {
		cfg.MediaDir = filepath.Join(o.data, "media") // photos in the data folder: no server needed
	}
	lis, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another whistle running? pass another --addr)", o.addr, err)
	}
	defer lis.Close()

	pgDesc := "WHISTLE_DATABASE_URL"
	if cfg.DatabaseURL == "" {
		srv, url, err := startPrivatePostgres(ctx, o.data, log)
		if err != nil {
			return err
		}
		defer stopPostgres(srv, log)
		cfg.DatabaseURL, pgDesc = url, "private, in "+filepath.Join(o.data, "postgres")
	}
	sc, natsDesc, natsURL := stack.Config{Reflection: true}, cfg.NATSURL, cfg.NATSURL
	if sc.Bus, err = cfg.natsBus(); err != nil {
		return err
	}
	var tools map[string]string
	if cfg.NATSURL == "" {
		dn, err := startDevNATS(o.data, sc.Bus)
		if err != nil {
			return err
		}
		defer dn.stop(log)
		natsURL, natsDesc, tools = dn.use(&sc, o.data)
	}
	if cfg.MetricsAddr == "" {
		cfg.MetricsAddr = devMetricsAddr
	}
	cfg.dev = true // loopback: reflection for anyone, as grpcurl expects
	ctlConfig, err := cfg.devAuth(o.data, lis.Addr().String())
	if err != nil {
		return err
	}
	if cfg.EvaluationCodeKeys == "" {
		cfg.EvaluationCodeKeys = filepath.Join(o.data, "auth", "evaluation-code.keys")
		if _, err := evalcode.Ensure(cfg.EvaluationCodeKeys); err != nil {
			return fmt.Errorf("dev evaluation code keys: %w", err)
		}
	}
	log.Info("starting whistle dev", "config", cfg, "addr", o.addr, "data", o.data)
	_, port, _ := net.SplitHostPort(o.addr)
	cfg.Open311Addr = cmp.Or(cfg.Open311Addr, devEdgeAddr(port, devOpen311Addr))
	cfg.ConsoleAddr = cmp.Or(cfg.ConsoleAddr, devEdgeAddr(port, devConsoleAddr))
	users, city, err := devConsoleUsers(o.data, cfg)
	if err != nil {
		return err
	}
	if cfg.Open311TokenFile == "" {
		cfg.Open311TokenFile = filepath.Join(o.data, "auth", "tokens", "monitor.jwt")
	}
	return serveStack(ctx, cfg, sc, lis, log, func() func(context.Context) {
		o311, stopO311, err := startOpen311(ctx, cfg, lis.Addr().String(), nil, log)
		if err != nil {
			log.Error("the Open311 gateway did not start; the gRPC APIs run without it", "err", err)
		}
		con, stopConsole, err := startConsole(ctx, cfg, lis.Addr().String(), nil, users, city, log)
		if err != nil {
			log.Error("the web console did not start; the gRPC APIs run without it", "err", err)
		}
		// One write: a reader that sees "ready on" sees the whole message.
		fmt.Fprintf(out, "whistle dev ready on %s (all five APIs; PostgreSQL: %s; NATS: %s; metrics: %s; Open311: %s; console: %s). Ctrl-C stops it.\n"+
			"tokens for a sample user of each role: %s; whistlectl config: %s (whistlectl --config %s smoke)\n",
			lis.Addr(), pgDesc, natsDesc, cfg.MetricsAddr, o311, con, filepath.Join(o.data, "auth", "tokens"), ctlConfig, ctlConfig)
		ends := bench.Endpoints{GRPC: lis.Addr().String(), Postgres: cfg.DatabaseURL, NATS: natsURL, PID: os.Getpid(), NATSUsers: tools,
			Open311: o311, Console: con}
		if err := writeEndpoints(o.data, ends); err != nil {
			log.Warn("endpoints file not written", "err", err)
		}
		if logFile != "" {
			fmt.Fprint(out, devSummary(ends, cfg.MetricsAddr, ctlConfig, logFile, users))
		}
		return func(ctx context.Context) {
			for _, stop := range []func(context.Context){stopConsole, stopO311} {
				if stop != nil {
					stop(ctx)
				}
			}
		}
	})
}

// onTerminal reports whether f is a terminal (a character device).
func onTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// devSummary is what `whistle dev` tells a person at a terminal: what runs
// where, how to sign in, and where the logs went.
func devSummary(e bench.Endpoints, metrics, ctlConfig, logFile string, users []console.User) string {
	var b strings.Builder
	row := func(what, where string) { fmt.Fprintf(&b, "  %-12s %s\n", what, where) }
	b.WriteString("\nWhistle is running. Ctrl-C stops it.\n")
	row("web console", e.Console)
	var names []string
	for _, u := range users {
		names = append(names, u.Name+" ("+u.OrgUnit+")")
	}
	if len(names) > 0 {
		row("  sign in as", strings.Join(names, ", "))
	}
	row("Open311", strings.TrimRight(e.Open311, "/")+"/open311/v2/")
	row("gRPC APIs", e.GRPC+" (grpcurl -plaintext "+e.GRPC+" list)")
	row("whistlectl", "whistlectl --config "+ctlConfig+" smoke")
	row("metrics", metrics)
	row("logs", logFile+" (JSON; with --log-format json they go to stderr)")
	return b.String()
}

// devEdgeAddr is where a dev serves an HTTP edge: its default port, or any
// free one when the dev's gRPC port is any free one (tests run several).
func devEdgeAddr(grpcPort, def string) string {
	if grpcPort == "0" {
		return "127.0.0.1:0"
	}
	return def
}

// writeEndpoints writes <data>/endpoints.json (bench.Endpoints), readable by
// its owner only: it holds the tools' NATS passwords. It is removed when
// `whistle dev` stops; `whistle bench --data` reads it.
func writeEndpoints(data string, e bench.Endpoints) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	path := filepath.Join(data, "endpoints.json")
	if err := os.WriteFile(path+".tmp", append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path) // readers never see half a file
}

// serveStack starts the stack, serves it on lis, calls ready, and on ctx's
// end shuts it down: gRPC, then consumers and relays, then connections.
func serveStack(ctx context.Context, cfg config, sc stack.Config, lis net.Listener, log *slog.Logger, ready func() (stopEdges func(context.Context))) error {
	cat, err := cfg.catalog()
	if err != nil {
		return err
	}
	sc.DatabaseURL, sc.Log, sc.PoolSize = cfg.DatabaseURL, log, cfg.PoolSize
	sc.Intake.City, sc.Dispatch.Catalog = cfg.City, cat
	sc.Intake.Backpressure = cfg.backpressure()
	media, closeMedia, err := cfg.openMedia(ctx)
	if err != nil {
		return err
	}
	defer closeMedia()
	sc.Intake.Media = media
	if sc.Intake.Webhooks, sc.Intake.Notices, err = cfg.outbound(); err != nil {
		return err
	}
	if sc.EvaluationCodes, err = cfg.evaluationCodes(); err != nil {
		return err
	}
	if sc.Auth, err = cfg.authenticator(ctx); err != nil {
		return err
	}
	if sc.ServerOptions, err = cfg.serverTLS(); err != nil {
		return err
	}
	sc.RateLimit = grpcserver.RateLimit{PerSecond: cfg.RateLimit}
	sc.OutboxLagLimit = cfg.HealthOutboxAge
	reg := telemetry.NewRegistry()
	sc.Metrics = reg
	checks := &health.Checker{} // no checks (not ready) until the stack runs
	metrics, err := serveMetrics(cfg.MetricsAddr, reg, checks, cfg.Pprof, cfg.healthDetails(), log)
	if err != nil {
		return err
	}
	defer metrics()
	st, err := stack.Start(ctx, sc)
	if err != nil {
		return err
	}
	for name, check := range st.HealthChecks() {
		checks.Add(name, check)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- st.Server.Serve(lis) }()
	stopEdges := ready()
	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "timeout_per_step", cfg.ShutdownTimeout)
	case runErr = <-serveErr:
		log.Error("gRPC server stopped", "err", runErr)
	case runErr = <-st.Errors():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 3*cfg.ShutdownTimeout)
	defer cancel()
	if stopEdges != nil { // the HTTP edges first: they call the stack
		ectx, ecancel := context.WithTimeout(sctx, cfg.ShutdownTimeout)
		stopEdges(ectx)
		ecancel()
	}
	if err := st.Shutdown(sctx, cfg.ShutdownTimeout); err != nil {
		log.Warn("shutdown", "err", err)
	}
	log.Info("services stopped")
	return runErr
}

// serveMetrics serves the registry on addr at /metrics ("off": nowhere),
// with the health checks' report at /healthz (200 while the process runs) and
// /readyz (200 when every check passes, else 503) — each check's result when
// details is set, else the status alone —, with the Go profiler at
// /debug/pprof/ when withPprof is set, and returns the function that stops it.
func serveMetrics(addr string, reg *prometheus.Registry, checks *health.Checker, withPprof, details bool, log *slog.Logger) (func(), error) {
	if addr == "off" {
		return func() {}, nil
	}
	if err := reg.Register(health.Collector(checks.Report)); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w (set WHISTLE_METRICS_ADDR to a free address, or off)", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", telemetry.MetricsHandler(reg))
	report := health.Source(checks.Report)
	if !details {
		report = health.StatusOnly(report)
	}
	mux.Handle("GET /healthz", health.Healthz(report))
	mux.Handle("GET /readyz", health.Readyz(report))
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		log.Warn("the Go profiler is served on the metrics address (WHISTLE_PPROF); keep that address private")
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", "err", err)
		}
	}()
	log.Info("metrics served", "health_details", details, "url", "http://"+lis.Addr().String()+"/metrics",
		"health", "http://"+lis.Addr().String()+"/healthz", "ready", "http://"+lis.Addr().String()+"/readyz")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

func startPrivatePostgres(ctx context.Context, data string, log *slog.Logger) (*pgserver.Server, string, error) {
	srv, err := pgserver.Start(ctx, pgserver.Options{Dir: filepath.Join(data, "postgres"), Log: log})
	if err != nil {
		if errors.Is(err, pgserver.ErrNoBinaries) {
			return nil, "", err
		}
		return nil, "", fmt.Errorf("private PostgreSQL: %w (or set WHISTLE_DATABASE_URL)", err)
	}
	if err := ensureDatabase(ctx, srv.URL("postgres"), devDatabase); err != nil {
		stopPostgres(srv, log)
		return nil, "", err
	}
	return srv, srv.URL(devDatabase), nil
}

func stopPostgres(srv *pgserver.Server, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Stop(ctx); err != nil {
		log.Warn("private PostgreSQL", "err", err)
		return
	}
	log.Info("private PostgreSQL stopped")
}

// ensureDatabase creates database name unless it exists.
func ensureDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to private PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}
