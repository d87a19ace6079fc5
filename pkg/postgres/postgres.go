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
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
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
}

// DB is a service's connection pool.
type DB struct {
	// Pool is the underlying pgx pool.
	Pool *pgxpool.Pool
	// Schema is the service's schema.
	Schema string
}

// Open connects to PostgreSQL, retrying for up to cfg.ConnectWait while the
// server is not reachable. The returned error says what to check.
func Open(ctx context.Context, cfg Config) (*DB, error) {
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
	return &DB{Pool: pool, Schema: cfg.Schema}, nil
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
func (db *DB) Close() { db.Pool.Close() }

// Querier runs SQL; both *pgxpool.Pool and pgx.Tx are Queriers.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

type txKey struct{}

type afterKey struct{}

// AfterCommit registers fn to run once the transaction ctx carries has
// committed (never if it rolls back); outside a transaction fn runs at once.
// Use it to tell the world about a change only when the change is durable.
func AfterCommit(ctx context.Context, fn func()) {
	if hooks, ok := ctx.Value(afterKey{}).(*[]func()); ok {
		*hooks = append(*hooks, fn)
		return
	}
	fn()
}

// InTx runs fn in a transaction. If ctx already carries a transaction begun by
// InTx, fn joins it (no savepoint): the outermost InTx commits or rolls back.
// So a use case that writes state and outbox rows stays one transaction even
// when an event consumer calls it inside the transaction that records the
// event in the inbox. fn's error, or a commit error, is returned as is.
func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context, tx pgx.Tx) error) error {
	if tx, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		return fn(ctx, tx)
	}
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var hooks []func()
	inner := context.WithValue(context.WithValue(ctx, txKey{}, tx), afterKey{}, &hooks)
	if err := fn(inner, tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, h := range hooks {
		h()
	}
	return nil
}

// Q returns the transaction ctx carries, or the pool.
func (db *DB) Q(ctx context.Context) Querier {
	if tx, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		return tx
	}
	return db.Pool
}

// IsUnavailable reports whether err means the database could not be reached or
// went away (as opposed to a query being wrong), so the caller may retry later.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P01-57P03: admin shutdown, crash
		// shutdown, cannot connect now (starting up).
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "connection refused") || strings.Contains(msg, "conn closed") ||
		strings.Contains(msg, "broken pipe") || strings.Contains(msg, "connection reset") ||
		strings.Contains(msg, "unexpected EOF") || strings.Contains(msg, "no such file or directory")
}

// IsUniqueViolation reports whether err is a unique-constraint violation.
func IsUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
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
