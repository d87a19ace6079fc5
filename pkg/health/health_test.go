package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/whistle-civic/whistle/pkg/health"
)

// get serves one request of h and decodes its report.
func get(t *testing.T, h http.Handler) (int, health.Report) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var rep health.Report
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatalf("body %q: %v", rec.Body.String(), err)
	}
	return rec.Code, rep
}

func ok(value float64, detail string) health.Check {
	return func(context.Context) (health.CheckResult, error) {
		return health.CheckResult{Value: value, Detail: detail}, nil
	}
}

func TestReadyWhenEveryCheckPasses(t *testing.T) {
	t.Parallel()
	var c health.Checker
	c.Add("intake.database", ok(0.002, "answered in 2ms"))
	c.Add("intake.nats", health.Func(func(context.Context) error { return nil }))
	code, rep := get(t, health.Readyz(c.Report))
	if code != http.StatusOK || rep.Status != health.StatusOK || len(rep.Checks) != 2 {
		t.Fatalf("/readyz %d %+v", code, rep)
	}
	if db := rep.Checks["intake.database"]; !db.OK || db.Value != 0.002 || db.Detail != "answered in 2ms" {
		t.Fatalf("database check %+v", db)
	}
}

func TestNotReadyWhenOneCheckFails(t *testing.T) {
	t.Parallel()
	var c health.Checker
	c.Add("intake.database", ok(0.001, ""))
	c.Add("intake.nats", health.Func(func(context.Context) error { return errors.New("NATS RECONNECTING") }))
	c.Add("intake.outbox", func(context.Context) (health.CheckResult, error) {
		return health.CheckResult{Value: 75}, errors.New("3 events waiting, the oldest for 75.0 s (limit 1m0s)")
	})
	code, rep := get(t, health.Readyz(c.Report))
	if code != http.StatusServiceUnavailable || rep.Status != health.StatusDegraded {
		t.Fatalf("/readyz %d %+v, want 503 degraded", code, rep)
	}
	if n := rep.Checks["intake.nats"]; n.OK || n.Detail != "NATS RECONNECTING" {
		t.Fatalf("nats check %+v", n)
	}
	if o := rep.Checks["intake.outbox"]; o.OK || o.Value != 75 || !strings.Contains(o.Detail, "75.0 s") {
		t.Fatalf("outbox check %+v", o)
	}
	if !rep.Checks["intake.database"].OK {
		t.Fatalf("database check %+v", rep.Checks["intake.database"])
	}
	if got := strings.Join(rep.Failing(), " "); got != "intake.nats intake.outbox" {
		t.Fatalf("failing %q", got)
	}
	// /healthz says the same, with 200: the process runs.
	code, live := get(t, health.Healthz(c.Report))
	if code != http.StatusOK || live.Status != health.StatusDegraded || len(live.Checks) != 3 {
		t.Fatalf("/healthz %d %+v", code, live)
	}
}

func TestNotReadyWhileStarting(t *testing.T) {
	t.Parallel()
	var c health.Checker
	if code, rep := get(t, health.Readyz(c.Report)); code != http.StatusServiceUnavailable || rep.Status != health.StatusStarting {
		t.Fatalf("/readyz with no checks: %d %+v", code, rep)
	}
	if code, rep := get(t, health.Healthz(c.Report)); code != http.StatusOK || rep.Status != health.StatusStarting {
		t.Fatalf("/healthz with no checks: %d %+v", code, rep)
	}
}

func TestSlowOrPanickingCheckFails(t *testing.T) {
	t.Parallel()
	c := health.Checker{Timeout: 50 * time.Millisecond}
	c.Add("slow", health.Func(func(ctx context.Context) error {
		<-ctx.Done()
		time.Sleep(time.Second) // ignores its deadline: the report must not wait for it
		return nil
	}))
	c.Add("panics", health.Func(func(context.Context) error { panic("oops") }))
	start := time.Now()
	rep := c.Report(context.Background())
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Fatalf("report took %s", took)
	}
	if s := rep.Checks["slow"]; s.OK || !strings.Contains(s.Detail, "no answer within 50ms") {
		t.Fatalf("slow check %+v", s)
	}
	if p := rep.Checks["panics"]; p.OK || !strings.Contains(p.Detail, "oops") {
		t.Fatalf("panicking check %+v", p)
	}
	if rep.Ready() {
		t.Fatal("ready with failing checks")
	}
}

func TestCollectorExportsEveryCheck(t *testing.T) {
	t.Parallel()
	var c health.Checker
	c.Add("intake.outbox", ok(12.5, ""))
	c.Add("intake.nats", health.Func(func(context.Context) error { return errors.New("NATS CLOSED") }))
	reg := prometheus.NewRegistry()
	reg.MustRegister(health.Collector(c.Report))
	want := `
# HELP whistle_health_check_ok 1 when the health check passes, 0 when it fails (see /readyz for the details)
# TYPE whistle_health_check_ok gauge
whistle_health_check_ok{check="intake.nats"} 0
whistle_health_check_ok{check="intake.outbox"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "whistle_health_check_ok"); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		if mf.GetName() == "whistle_health_check_value" {
			for _, m := range mf.GetMetric() {
				got = append(got, fmt.Sprintf("%s=%g", m.GetLabel()[0].GetValue(), m.GetGauge().GetValue()))
			}
		}
	}
	if strings.Join(got, " ") != "intake.nats=0 intake.outbox=12.5" {
		t.Fatalf("whistle_health_check_value: %v", got)
	}
}

// StatusOnly keeps the status (and so /readyz's code) and drops every
// check: names, values and error texts.
func TestStatusOnlyTellsNoDetails(t *testing.T) {
	t.Parallel()
	var c health.Checker
	c.Add("intake.database", health.Func(func(context.Context) error {
		return errors.New("dial tcp 10.0.3.7:5432: connection refused")
	}))
	for name, h := range map[string]http.Handler{
		"readyz": health.Readyz(health.StatusOnly(c.Report)), "healthz": health.Healthz(health.StatusOnly(c.Report)),
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		want := map[string]int{"readyz": http.StatusServiceUnavailable, "healthz": http.StatusOK}[name]
		if body := rec.Body.String(); rec.Code != want || strings.TrimSpace(body) != "{\n  \"status\": \"degraded\"\n}" {
			t.Errorf("/%s: %d %s; want %d and the status alone", name, rec.Code, body, want)
		}
	}
}

// A check that passes with a warning keeps the process ready, shows the
// warning in /readyz and sets whistle_health_check_warning; a failing check
// never counts as a warning.
func TestWarningKeepsReady(t *testing.T) {
	t.Parallel()
	var c health.Checker
	c.Add("dispatch.calendar", func(context.Context) (health.CheckResult, error) {
		return health.CheckResult{Value: 29, Warning: "the business calendar covers only until 2026-12-31"}, nil
	})
	c.Add("dispatch.database", ok(0.001, ""))
	c.Add("dispatch.nats", func(context.Context) (health.CheckResult, error) {
		return health.CheckResult{Warning: "ignored"}, errors.New("NATS CLOSED")
	})
	code, rep := get(t, health.Readyz(c.Report))
	if code != http.StatusServiceUnavailable || strings.Join(rep.Warnings(), ",") != "dispatch.calendar" ||
		rep.Checks["dispatch.calendar"].Warning == "" || !rep.Checks["dispatch.calendar"].OK {
		t.Fatalf("/readyz %d %+v, warnings %v", code, rep, rep.Warnings())
	}
	c.Add("dispatch.nats", ok(0, ""))
	if code, rep := get(t, health.Readyz(c.Report)); code != http.StatusOK || rep.Status != health.StatusOK {
		t.Fatalf("/readyz with only a warning: %d %+v; want ready", code, rep)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(health.Collector(c.Report))
	want := `
# HELP whistle_health_check_warning 1 when the health check passes with a warning (see /readyz for what to do), else 0
# TYPE whistle_health_check_warning gauge
whistle_health_check_warning{check="dispatch.calendar"} 1
whistle_health_check_warning{check="dispatch.database"} 0
whistle_health_check_warning{check="dispatch.nats"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "whistle_health_check_warning"); err != nil {
		t.Fatal(err)
	}
}
