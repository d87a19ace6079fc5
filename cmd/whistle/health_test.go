package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/health"
	"github.com/whistle-civic/whistle/pkg/pgserver"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
	"github.com/whistle-civic/whistle/cmd/internal/stack"
)

// TestDevHealthEndpoints runs `whistle dev` on its embedded defaults and
// reads /healthz and /readyz beside /metrics: ready, with every service's
// database, NATS and outbox checks passing. Then PostgreSQL goes away: a
// whistle is refused at once with Unavailable and a message saying to retry,
// /readyz answers 503 naming the database checks, /healthz still 200, and
// the process keeps running.
func TestDevHealthEndpoints(t *testing.T) {
	if _, err := pgserver.FindBinaries(); err != nil {
		t.Fatalf("whistle dev needs PostgreSQL's binaries here: %v", err)
	}
	t.Setenv("WHISTLE_DATABASE_URL", "")
	t.Setenv("WHISTLE_NATS_URL", "")
	data := filepath.Join(t.TempDir(), "data")
	addr, metrics := freeAddr(t), freeAddr(t)
	t.Setenv("WHISTLE_METRICS_ADDR", metrics)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- runDev(ctx, mustConfig(t), devOptions{addr: addr, data: data}, out) }()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "ready on "+addr) {
		select {
		case err := <-done:
			t.Fatalf("whistle dev exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("whistle dev not ready within 60 s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	code, rep := getReport(t, metrics, "/readyz")
	if code != http.StatusOK || rep.Status != health.StatusOK {
		t.Fatalf("/readyz of a fresh whistle dev: %d %+v", code, rep)
	}
	var want []string
	for _, svc := range stack.Names {
		want = append(want, svc+".database", svc+".nats", svc+".outbox")
	}
	want = append(want, "dispatch.calendar") // passes; warns while the calendar covers under 60 days
	slices.Sort(want)
	var got []string
	for name, res := range rep.Checks {
		got = append(got, name)
		if !res.OK {
			t.Errorf("check %s failed: %+v", name, res)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("checks %v, want %v", got, want)
	}
	if code, live := getReport(t, metrics, "/healthz"); code != http.StatusOK || live.Status != health.StatusOK {
		t.Fatalf("/healthz: %d %+v", code, live)
	}
	if body := get(t, metrics, "/metrics"); !strings.Contains(body, `whistle_health_check_ok{check="intake.database"} 1`) ||
		!strings.Contains(body, "whistle_calendar_days_ahead{") || !strings.Contains(body, `whistle_health_check_warning{check="dispatch.calendar"}`) {
		t.Fatalf("/metrics lacks the health gauges:\n%s", body)
	}

	// PostgreSQL goes away (stopped behind whistle dev's back).
	pid := postmasterPID(data)
	if pid == 0 {
		t.Fatal("no postmaster.pid")
	}
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	stopBy := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(stopBy) {
			t.Fatal("PostgreSQL does not stop")
		}
		time.Sleep(20 * time.Millisecond)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	as := devAs(t, data)
	c := loop.NewClients(conn)
	for i := range 2 { // the first call may meet a pooled connection the server closed, the second a missing server
		cctx, ccancel := context.WithTimeout(as(ctx, auth.RoleReporter, "xc-hd-dj-g01"), 30*time.Second)
		start := time.Now()
		_, err = c.Intake.Report(cctx, &whistlev1.ReportRequest{IdempotencyKey: fmt.Sprint("pg-down-", i),
			Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY, Source: whistlev1.Source_SOURCE_GRID_PATROL, Category: "water_leak",
			Description: "reported while PostgreSQL is down", Location: &whistlev1.Location{GridId: "xc-hd-dj-g01"},
			Reporter: &whistlev1.Reporter{OrgUnitId: "xc-hd-dj-g01", Name: "grid officer"}})
		took := time.Since(start)
		ccancel()
		st := status.Convert(err)
		if st.Code() != codes.Unavailable || !strings.HasPrefix(st.Message(), "the database is unavailable (") ||
			!strings.HasSuffix(st.Message(), "retry in a moment; Whistle reconnects by itself") {
			t.Fatalf("Report with PostgreSQL down: %v", err)
		}
		if took > 5*time.Second {
			t.Errorf("Report with PostgreSQL down took %s", took)
		}
		t.Logf("Report with PostgreSQL down: %s after %s: %s", st.Code(), took.Round(time.Millisecond), st.Message())
	}

	code, rep = getReport(t, metrics, "/readyz")
	if code != http.StatusServiceUnavailable || rep.Status != health.StatusDegraded {
		t.Fatalf("/readyz with PostgreSQL down: %d %+v", code, rep)
	}
	for _, svc := range stack.Names {
		db := rep.Checks[svc+".database"]
		if db.OK || !strings.HasPrefix(db.Detail, "the database is unavailable (") {
			t.Errorf("%s.database with PostgreSQL down: %+v", svc, db)
		}
		if !rep.Checks[svc+".nats"].OK {
			t.Errorf("%s.nats with PostgreSQL down: %+v", svc, rep.Checks[svc+".nats"])
		}
	}
	t.Logf("/readyz with PostgreSQL down: 503, failing %v; intake.database: %s", rep.Failing(), rep.Checks["intake.database"].Detail)
	if code, live := getReport(t, metrics, "/healthz"); code != http.StatusOK || live.Status != health.StatusDegraded {
		t.Fatalf("/healthz with PostgreSQL down: %d %+v", code, live)
	}
	select {
	case err := <-done:
		t.Fatalf("whistle dev stopped while PostgreSQL was down: %v", err)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Logf("whistle dev stopped with %v", err)
	}
}

func get(t *testing.T, addr, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func getReport(t *testing.T, addr, path string) (int, health.Report) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep health.Report
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, rep
}
