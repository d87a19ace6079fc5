package health_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/whistle-civic/whistle/pkg/health"
	"github.com/whistle-civic/whistle/pkg/natsserver"
	"github.com/whistle-civic/whistle/pkg/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestDatabaseAndOutboxChecks(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, "health", nil)
	ctx := context.Background()
	res, err := health.Database(db)(ctx)
	if err != nil || res.Value <= 0 {
		t.Fatalf("database check: %+v, %v", res, err)
	}
	lag := health.Outbox(db, time.Minute)
	if res, err := lag(ctx); err != nil || res.Value != 0 || res.Detail != "0 events waiting, the oldest for 0.0 s" {
		t.Fatalf("empty outbox: %+v, %v", res, err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO outbox (event_id, event_type, payload, created_at) VALUES
		(gen_random_uuid(), 'reported', '', now() - interval '90 seconds'),
		(gen_random_uuid(), 'reported', '', now())`); err != nil {
		t.Fatal(err)
	}
	res, err = lag(ctx)
	if err == nil || res.Value < 90 || !strings.Contains(err.Error(), "2 events waiting") {
		t.Fatalf("outbox with an event 90 s old, limit 1 min: %+v, %v", res, err)
	}
	if res, err := health.Outbox(db, 0)(ctx); err == nil { // default limit: 60 s
		t.Fatalf("default limit: %+v passes", res)
	}
	if res, err := health.Outbox(db, 5*time.Minute)(ctx); err != nil {
		t.Fatalf("limit 5 min: %+v, %v", res, err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE outbox SET sent_at = now()`); err != nil {
		t.Fatal(err)
	}
	if res, err := lag(ctx); err != nil || res.Value != 0 {
		t.Fatalf("all sent: %+v, %v", res, err)
	}
}

func TestNATSCheck(t *testing.T) {
	t.Parallel()
	srv, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir(), Listen: true})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(srv.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	check := health.NATS(nc)
	if res, err := check(context.Background()); err != nil || !strings.HasPrefix(res.Detail, "connected to nats://") {
		t.Fatalf("connected: %+v, %v", res, err)
	}
	srv.Shutdown()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := check(context.Background())
		if err != nil {
			if !strings.Contains(err.Error(), "NATS RECONNECTING") {
				t.Fatalf("server down: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the check still passes 10 s after the server stopped")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
