// Package postgres connects a service to PostgreSQL: a pgx pool bound to the
// service's own schema, transactions that nest by joining, the platform tables
// every service shares (outbox and inbox) and embedded migrations run with goose.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"
)

// Config says how to reach PostgreSQL.
type Config struct {
	// URL is a libpq connection string or URL, e.g.
	// "postgres://postgres@127.0.0.1:5432/whistle" or "host=/run/pg dbname=whistle".
	URL string
	// Schema is the service's own schema; the pool's search_path is set to it,
	// so the service's SQL names its tables unqualified. Required.
	Schema string
	// MaxConns caps the pool. Default 8.
	MaxConns int32
	// ConnectWait is how long Open keeps retrying a server that does not answer
	// yet (it may be starting). Default 30 s.
	ConnectWait time.Duration
	// ConnectTimeout bounds one attempt to open a connection, so that a call
	// made while the server is unreachable fails (Unavailable) instead of
	// hanging. Default: the URL's connect_timeout, else 3 s.
	ConnectTimeout time.Duration
	// Tracer, when set, traces the pool's work (otelpgx): every query,
	// batch, prepare and connect made within a recording span becomes a
	// child span of kind Client named by its operation ("SELECT", …), with
	// the semantic conventions' db.system.name "postgresql", db.namespace,
	// db.query.text (the SQL, never its arguments), db.operation.name,
	// server.address and server.port. Work outside any span (the outbox
	// relay's polling, health checks, migrations at start) makes no spans.
	// Default: no database spans.
	Tracer trace.TracerProvider
}

// Pool settings that let a service ride out a database outage (see
// docs/degradation.md). A call needing a new connection while the server is
// gone fails within defaultConnectTimeout at worst (at once when the server
// refuses or its socket is gone); a pooled connection idle for more than a
// second is pinged before use (pgxpool's default) and replaced if the ping
// fails within pingTimeout; every healthCheckPeriod idle connections past
// maxConnIdleTime are closed. Nothing needs reopening when the server
// returns: the next call connects afresh.
const (
	defaultConnectTimeout = 3 * time.Second
	pingTimeout           = 2 * time.Second
	healthCheckPeriod     = 15 * time.Second
	maxConnIdleTime       = 5 * time.Minute
)

// DB is a service's connection pool.
type DB struct {
	// Pool is the underlying pgx pool.
	Pool *pgxpool.Pool
	// Schema is the service's schema.
	Schema string

	notifier *notifier

	groupOnce sync.Once
	group     *group // see InGroupTx
}

// Open connects to PostgreSQL, retrying for up to cfg.ConnectWait while the
// server is not reachable. The returned error says what to check.
//
// Once open, the pool rides out outages by itself (see the pool settings
// above): while the server is down, calls fail fast with errors for which
// IsUnavailable is true, and when it is back the same pool serves again.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	pc, err := poolConfig(cfg)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", MaskURL(cfg.URL), err)
	}
	wait := cfg.ConnectWait
	if wait == 0 {
		wait = 30 * time.Second
	}
	if err := pingUntil(ctx, pool, wait); err != nil {
		pool.Close()
		return nil, fmt.Errorf("reach PostgreSQL at %s: %w (is it running? check WHISTLE_DATABASE_URL)", MaskURL(cfg.URL), err)
	}
	db := &DB{Pool: pool, Schema: cfg.Schema, notifier: newNotifier()}
	go db.notifier.run(db)
	return db, nil
}

// poolConfig turns cfg into the pool's configuration.
func poolConfig(cfg Config) (*pgxpool.Config, error) {
	if cfg.Schema == "" {
		return nil, errors.New("postgres: Config.Schema is required")
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL %s: %w (check WHISTLE_DATABASE_URL)", MaskURL(cfg.URL), err)
	}
	pc.ConnConfig.RuntimeParams["search_path"] = cfg.Schema + ",public"
	pc.ConnConfig.RuntimeParams["application_name"] = "whistle-" + cfg.Schema
	pc.MaxConns = cfg.MaxConns
	if pc.MaxConns == 0 {
		pc.MaxConns = 8
	}
	if cfg.ConnectTimeout > 0 {
		pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	} else if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	pc.PingTimeout = pingTimeout
	pc.HealthCheckPeriod = healthCheckPeriod
	pc.MaxConnIdleTime = maxConnIdleTime
	if cfg.Tracer != nil {
		// Waiting for a pooled connection shows in the query's own span.
		pc.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(cfg.Tracer), otelpgx.WithDisableAcquireTracer())
	}
	return pc, nil
}

func pingUntil(ctx context.Context, pool *pgxpool.Pool, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	delay := 50 * time.Millisecond
	for {
		err := pool.Ping(ctx)
		if err == nil || !IsUnavailable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(delay*2, time.Second)
	}
}

// Close closes the pool, waiting for connections in use to be released.
func (db *DB) Close() {
	if db.notifier != nil {
		db.notifier.close()
	}
	db.Pool.Close()
}

// Querier runs SQL; both *pgxpool.Pool and pgx.Tx are Queriers.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, rows pgx.CopyFromSource) (int64, error)
}

// Q returns the transaction ctx carries, or the pool.
func (db *DB) Q(ctx context.Context) Querier {
	if tx, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		return tx
	}
	return db.Pool
}

// MaskURL hides the password in a connection URL or keyword string, for logs.
func MaskURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		return u.String()
	}
	fields := strings.Fields(raw)
	for i, f := range fields {
		if strings.HasPrefix(f, "password=") {
			fields[i] = "password=xxxxx"
		}
	}
	return strings.Join(fields, " ")
}
