package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// silentServer accepts TCP connections and never answers, like a database
// host that vanished behind a firewall. It returns its address.
func silentServer(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = lis.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return lis.Addr().String()
}

func TestPoolConfigBoundsConnecting(t *testing.T) {
	t.Parallel()
	pc, err := poolConfig(Config{URL: "postgres://u@127.0.0.1:1/db", Schema: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if pc.ConnConfig.ConnectTimeout != defaultConnectTimeout || pc.HealthCheckPeriod != healthCheckPeriod ||
		pc.PingTimeout != pingTimeout || pc.MaxConns != 8 {
		t.Fatalf("connect timeout %s, health checks every %s, ping timeout %s, %d conns",
			pc.ConnConfig.ConnectTimeout, pc.HealthCheckPeriod, pc.PingTimeout, pc.MaxConns)
	}
	pc, err = poolConfig(Config{URL: "postgres://u@127.0.0.1:1/db?connect_timeout=7", Schema: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if pc.ConnConfig.ConnectTimeout != 7*time.Second {
		t.Fatalf("connect timeout %s, want the URL's 7s", pc.ConnConfig.ConnectTimeout)
	}
	pc, err = poolConfig(Config{URL: "postgres://u@127.0.0.1:1/db?connect_timeout=7", Schema: "s", ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if pc.ConnConfig.ConnectTimeout != time.Second {
		t.Fatalf("connect timeout %s, want Config's 1s", pc.ConnConfig.ConnectTimeout)
	}
}

// TestSilentServerFailsWithinConnectTimeout checks that a call does not hang
// on a server that accepts connections and never answers: it fails once the
// connect timeout passes, as unavailable; and a caller's shorter deadline met
// while a transaction waits for its connection is unavailable too.
func TestSilentServerFailsWithinConnectTimeout(t *testing.T) {
	t.Parallel()
	pc, err := poolConfig(Config{URL: fmt.Sprintf("postgres://u@%s/db?sslmode=disable", silentServer(t)), Schema: "s",
		ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := &DB{Pool: pool, Schema: "s"}

	start := time.Now()
	_, err = pool.Exec(context.Background(), "SELECT 1") // no deadline of the caller's
	took := time.Since(start)
	if err == nil || took > 3*time.Second {
		t.Fatalf("query on a silent server: %v after %s, want a failure after the 1s connect timeout", err, took)
	}
	if cause := unavailableCause(err); cause != "no answer within the connect timeout" {
		t.Fatalf("cause %q of %v", cause, err)
	}
	t.Logf("failed after %s: %v", took.Round(time.Millisecond), AsUnavailable(err))

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = db.InTx(ctx, func(context.Context, pgx.Tx) error { return nil })
	if !IsUnavailable(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("transaction whose deadline passes while connecting: %v, want unavailable", err)
	}
	t.Logf("transaction: %v", AsUnavailable(err))
}

func TestIsUnavailableIgnoresOtherErrors(t *testing.T) {
	t.Parallel()
	for _, err := range []error{
		nil,
		errors.New("boom"),
		context.Canceled,
		fmt.Errorf("query: %w", context.DeadlineExceeded), // a slow query is the caller's deadline, not an outage
		fmt.Errorf("begin transaction: %w", &acquireError{err: context.Canceled}),
	} {
		if IsUnavailable(err) {
			t.Errorf("IsUnavailable(%v) = true", err)
		}
		if got := AsUnavailable(err); !errors.Is(got, err) && err != nil {
			t.Errorf("AsUnavailable(%v) = %v, want it unchanged", err, got)
		}
	}
}
