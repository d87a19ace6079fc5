// Package health tells whether a process and what it depends on are well:
// named checks (database reachable, NATS connected, outbox lag…) run
// together into a Report, served as JSON at /healthz (the process runs: always
// 200) and /readyz (every check passes: 200, else 503). See
// docs/degradation.md.
package health

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Check looks at one dependency. It returns nil when the dependency is well
// and an error saying what is wrong otherwise. It may also return what it
// measured (CheckResult.Value and Detail; OK is set from the error).
type Check func(ctx context.Context) (CheckResult, error)

// Func makes a Check of a function that only says whether all is well.
func Func(f func(ctx context.Context) error) Check {
	return func(ctx context.Context) (CheckResult, error) { return CheckResult{}, f(ctx) }
}

// CheckResult is the outcome of one check.
type CheckResult struct {
	// OK is true when the check passed.
	OK bool `json:"ok"`
	// Detail says what was seen: what is wrong when OK is false.
	Detail string `json:"detail,omitempty"`
	// Value is what the check measured, if anything (e.g. the outbox's oldest
	// unsent event's age in seconds).
	Value float64 `json:"value"`
	// Warning says what needs an operator's attention soon in a check that
	// passes (e.g. a business calendar running out): the process stays
	// ready. Empty when nothing does.
	Warning string `json:"warning,omitempty"`
}

// Report statuses.
const (
	// StatusOK: every check passed.
	StatusOK = "ok"
	// StatusDegraded: at least one check failed; the process still runs
	// and serves what it can.
	StatusDegraded = "degraded"
	// StatusStarting: no checks are registered yet (the process is starting).
	StatusStarting = "starting"
)

// Report is every check's result, by name.
type Report struct {
	// Status is StatusOK, StatusDegraded or StatusStarting.
	Status string `json:"status"`
	// Checks holds each check's result by its name, e.g. "intake.database";
	// none in a report made by StatusOnly.
	Checks map[string]CheckResult `json:"checks,omitempty"`
}

// Ready reports whether every check passed.
func (r Report) Ready() bool { return r.Status == StatusOK }

// Failing lists the names of the checks that failed, sorted.
func (r Report) Failing() []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(r.Checks)) {
		if !r.Checks[name].OK {
			out = append(out, name)
		}
	}
	return out
}

// Warnings lists the names of the checks that pass with a warning, sorted.
func (r Report) Warnings() []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(r.Checks)) {
		if r.Checks[name].OK && r.Checks[name].Warning != "" {
			out = append(out, name)
		}
	}
	return out
}

// DefaultTimeout bounds each check when Checker.Timeout is zero.
const DefaultTimeout = 2 * time.Second

// Checker runs named checks. The zero value is ready to use; checks may be
// added while it serves (a process registers its checks once it has started).
type Checker struct {
	// Timeout bounds each check. Default DefaultTimeout.
	Timeout time.Duration

	mu     sync.Mutex
	checks map[string]Check
}

// Add registers a check under name, replacing any check of that name.
func (c *Checker) Add(name string, check Check) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.checks == nil {
		c.checks = map[string]Check{}
	}
	c.checks[name] = check
}

// Report runs every check at once, each bounded by the timeout, and gathers
// their results. A check that panics or overruns fails.
func (c *Checker) Report(ctx context.Context) Report {
	c.mu.Lock()
	checks := maps.Clone(c.checks)
	c.mu.Unlock()
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	r := Report{Status: StatusOK, Checks: make(map[string]CheckResult, len(checks))}
	if len(checks) == 0 {
		r.Status = StatusStarting
		return r
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range checks {
		wg.Go(func() {
			res := run(ctx, check, timeout)
			mu.Lock()
			defer mu.Unlock()
			r.Checks[name] = res
			if !res.OK {
				r.Status = StatusDegraded
			}
		})
	}
	wg.Wait()
	return r
}

// run runs one check within timeout: one that overruns fails without its
// result being waited for.
func run(ctx context.Context, check Check, timeout time.Duration) CheckResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan CheckResult, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- CheckResult{Detail: fmt.Sprintf("check panicked: %v", p)}
			}
		}()
		res, err := check(ctx)
		res.OK = err == nil
		if err != nil {
			res.Detail = err.Error()
		}
		done <- res
	}()
	select {
	case res := <-done:
		return res
	case <-ctx.Done():
		return CheckResult{Detail: fmt.Sprintf("no answer within %s", timeout)}
	}
}

// Source gives the current report; *Checker.Report is one.
type Source func(ctx context.Context) Report

// StatusOnly gives src's reports without their checks: the status alone,
// with no dependency's name, address or error text, for endpoints that
// more than the operators can reach. The status code of Readyz is the same.
func StatusOnly(src Source) Source {
	return func(ctx context.Context) Report { return Report{Status: src(ctx).Status} }
}

// Healthz serves the report with 200 whatever it says: the process runs.
// Use it for liveness; the body tells operators what is degraded.
func Healthz(src Source) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		write(w, http.StatusOK, src(r.Context()))
	})
}

// Readyz serves the report with 200 when every check passed and 503
// otherwise (also while no checks are registered yet).
func Readyz(src Source) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep := src(r.Context())
		code := http.StatusOK
		if !rep.Ready() {
			code = http.StatusServiceUnavailable
		}
		write(w, code, rep)
	})
}

func write(w http.ResponseWriter, code int, rep Report) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(rep)
}

var (
	okDesc = prometheus.NewDesc("whistle_health_check_ok",
		"1 when the health check passes, 0 when it fails (see /readyz for the details)", []string{"check"}, nil)
	warningDesc = prometheus.NewDesc("whistle_health_check_warning",
		"1 when the health check passes with a warning (see /readyz for what to do), else 0", []string{"check"}, nil)
	valueDesc = prometheus.NewDesc("whistle_health_check_value",
		"What the health check measured (database: round trip in s; nats: reconnections; outbox: oldest unsent event's age in s)",
		[]string{"check"}, nil)
)

type collector struct{ src Source }

// Collector exports the report at every scrape as the gauges
// whistle_health_check_ok{check} (1 or 0), whistle_health_check_warning{check}
// (1 or 0) and whistle_health_check_value{check}.
func Collector(src Source) prometheus.Collector { return collector{src} }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- okDesc
	ch <- warningDesc
	ch <- valueDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	rep := c.src(context.Background())
	for name, res := range rep.Checks {
		ok := 0.0
		if res.OK {
			ok = 1
		}
		warned := 0.0
		if res.OK && res.Warning != "" {
			warned = 1
		}
		ch <- prometheus.MustNewConstMetric(okDesc, prometheus.GaugeValue, ok, name)
		ch <- prometheus.MustNewConstMetric(warningDesc, prometheus.GaugeValue, warned, name)
		ch <- prometheus.MustNewConstMetric(valueDesc, prometheus.GaugeValue, res.Value, name)
	}
}
