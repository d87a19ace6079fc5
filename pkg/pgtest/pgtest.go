// Package pgtest gives each test its own freshly migrated PostgreSQL database.
//
// The server is, in order of preference: WHISTLE_TEST_DATABASE_URL; the local
// server on 127.0.0.1:5432 (user postgres) if it answers; or a private server
// started from the machine's PostgreSQL binaries in a temporary folder, like
// `whistle dev` does. Packages that use pgtest call Main from TestMain so that
// a private server is stopped when their tests end. Tests fail, never skip,
// when no PostgreSQL can be had.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/pgserver"
	"github.com/whistle-civic/whistle/pkg/postgres"
)

const localURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable&connect_timeout=2"

var (
	once     sync.Once
	adminURL string
	setupErr error
	private  *pgserver.Server
	tmpDir   string
)

// Main runs the package's tests and then stops the private server, if one was
// started. Use it as: func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) { os.Exit(Run(m.Run)) }

// Run is Main for a TestMain that does more around the tests: it calls run
// and then stops the private server, and returns run's exit code.
func Run(run func() int) int {
	code := run()
	if private != nil {
		_ = private.Stop(context.Background())
		_ = os.RemoveAll(tmpDir)
	}
	return code
}

// AdminURL returns a connection string with the right to create databases.
func AdminURL(tb testing.TB) string {
	tb.Helper()
	once.Do(func() { adminURL, setupErr = findServer() })
	if setupErr != nil {
		tb.Fatalf("no PostgreSQL for tests: %v", setupErr)
	}
	return adminURL
}

func findServer() (string, error) {
	if u := os.Getenv("WHISTLE_TEST_DATABASE_URL"); u != "" {
		return u, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, localURL); err == nil {
		_ = conn.Close(ctx)
		return localURL, nil
	}
	dir, err := os.MkdirTemp("", "whistle-test-pg-")
	if err != nil {
		return "", err
	}
	srv, err := pgserver.Start(context.Background(), pgserver.Options{Dir: dir, Ephemeral: true})
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("WHISTLE_TEST_DATABASE_URL is unset, nothing answers on 127.0.0.1:5432, "+
			"and a private server could not start: %w", err)
	}
	private, tmpDir = srv, dir
	return srv.URL("postgres"), nil
}

// NewDatabase creates an empty database, dropped when the test ends, and
// returns its connection string.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	url, drop, err := CreateDatabase()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(drop)
	return url
}

// CreateDatabase is NewDatabase for TestMain, where there is no test yet: it
// returns the database's connection string and a function that drops it.
func CreateDatabase() (string, func(), error) {
	once.Do(func() { adminURL, setupErr = findServer() })
	if setupErr != nil {
		return "", nil, fmt.Errorf("no PostgreSQL for tests: %w", setupErr)
	}
	admin, name, ctx := adminURL, "whistle_test_"+randomHex(6), context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("connect to test PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create test database: %w", err)
	}
	drop := func() {
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	return WithDatabase(admin, name), drop, nil
}

// Open returns a pool on a new database with schema migrated from migrations
// (nil migrations: the platform tables only). It is closed when the test ends.
func Open(tb testing.TB, schema string, migrations fs.FS) *postgres.DB {
	tb.Helper()
	return OpenIn(tb, NewDatabase(tb), schema, migrations)
}

// OpenIn is Open in an existing database, for tests that run several
// services' schemas side by side.
func OpenIn(tb testing.TB, dbURL, schema string, migrations fs.FS) *postgres.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, postgres.Config{URL: dbURL, Schema: schema, ConnectWait: 5 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(db.Close)
	if err := postgres.Migrate(ctx, db, migrations, nil); err != nil {
		tb.Fatal(err)
	}
	return db
}

// WithDatabase returns the connection string raw pointed at database name.
func WithDatabase(raw, name string) string {
	if strings.HasPrefix(raw, "postgres://") || strings.HasPrefix(raw, "postgresql://") {
		u, err := url.Parse(raw)
		if err == nil {
			u.Path = "/" + name
			return u.String()
		}
	}
	return raw + " dbname=" + name
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
