package validate

import (
	"bufio"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	promparser "github.com/prometheus/prometheus/promql/parser"
)

// repoPath returns a path inside the repository, from its root.
func repoPath(elem ...string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(file), "..", ".."}, elem...)...)
}

// readRepoFile returns a repository file's text, failing the test when it cannot be read.
func readRepoFile(t testing.TB, elem ...string) string {
	t.Helper()
	b, err := os.ReadFile(repoPath(elem...))
	if err != nil {
		t.Fatalf("read %s: %v", filepath.Join(elem...), err)
	}
	return string(b)
}

// metricsFile is the list of every metric the services expose, with its
// type, generated from a running stack by deploy/observability/gen-metrics.sh.
var metricsFile = []string{"deploy", "observability", "metrics.txt"}

// prometheusSeries are the series Prometheus itself records for every
// scrape target, besides what the target exposes.
var prometheusSeries = map[string]string{
	"up":                                    "gauge",
	"scrape_duration_seconds":               "gauge",
	"scrape_samples_scraped":                "gauge",
	"scrape_samples_post_metric_relabeling": "gauge",
	"scrape_series_added":                   "gauge",
}

// knownMetrics returns the metric names the dashboards and alerts may use,
// with their Prometheus types: metrics.txt and Prometheus's own series.
func knownMetrics(t testing.TB) map[string]string {
	t.Helper()
	f, err := os.Open(repoPath(metricsFile...))
	if err != nil {
		t.Fatalf("read the metric list: %v (generate it with bash deploy/observability/gen-metrics.sh)", err)
	}
	defer f.Close()
	known := map[string]string{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 || !isMetricName(fields[0]) {
			t.Fatalf("%s:%d: %q: want \"<metric name> <type>\" (regenerate with deploy/observability/gen-metrics.sh)",
				filepath.Join(metricsFile...), line, text)
		}
		known[fields[0]] = fields[1]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(known) == 0 {
		t.Fatalf("%s lists no metric", filepath.Join(metricsFile...))
	}
	for n, typ := range prometheusSeries {
		known[n] = typ
	}
	return known
}

var metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// isMetricName reports whether s is a classic Prometheus metric name.
func isMetricName(s string) bool { return metricNameRE.MatchString(s) }

// promQL parses PromQL as Prometheus does.
var promQL = promparser.NewParser(promparser.Options{})

// queryCheck is what checkQuery found in one PromQL expression.
type queryCheck struct {
	// Metrics are the metric names the expression selects.
	Metrics []string
	// Problems say what is wrong, each ready for a failure message.
	Problems []string
}

// rateFuncs need a counter (or a histogram's or summary's series) under
// them; gaugeFuncs a gauge.
var (
	rateFuncs  = []string{"rate", "irate", "increase", "resets"}
	gaugeFuncs = []string{"deriv", "delta", "idelta", "predict_linear"}
)

// checkQuery parses expr and checks that it selects only known metrics by
// name, and applies rate-like functions to counters and delta-like ones to gauges.
func checkQuery(expr string, known map[string]string) queryCheck {
	var c queryCheck
	parsed, err := promQL.ParseExpr(expr)
	if err != nil {
		c.Problems = append(c.Problems, fmt.Sprintf("does not parse as PromQL: %v", err))
		return c
	}
	promparser.Inspect(parsed, func(node promparser.Node, _ []promparser.Node) error {
		switch n := node.(type) {
		case *promparser.VectorSelector:
			name := selectorName(n)
			if name == "" {
				c.Problems = append(c.Problems, fmt.Sprintf("selector %s names no metric: select one by name", n))
				return nil
			}
			c.Metrics = append(c.Metrics, name)
			if _, ok := known[name]; !ok {
				c.Problems = append(c.Problems, fmt.Sprintf("metric %s is not exposed by the services (not in %s; "+
					"use a name listed there, or regenerate it with deploy/observability/gen-metrics.sh if the metric is new)",
					name, filepath.Join(metricsFile...)))
			}
		case *promparser.Call:
			for _, arg := range n.Args {
				ms, ok := arg.(*promparser.MatrixSelector)
				if !ok {
					continue
				}
				vs, ok := ms.VectorSelector.(*promparser.VectorSelector)
				if !ok {
					continue
				}
				name := selectorName(vs)
				typ, ok := known[name]
				if !ok {
					continue // reported with the selector
				}
				switch {
				case slices.Contains(rateFuncs, n.Func.Name) && typ == "gauge":
					c.Problems = append(c.Problems, fmt.Sprintf("%s() over the gauge %s: rates are for counters; use deriv() or delta()", n.Func.Name, name))
				case slices.Contains(gaugeFuncs, n.Func.Name) && typ != "gauge" && typ != "untyped":
					c.Problems = append(c.Problems, fmt.Sprintf("%s() over the %s %s: it is for gauges; use rate() or increase()", n.Func.Name, typ, name))
				}
			}
		}
		return nil
	})
	return c
}

// selectorName returns the metric name a selector selects, "" when none.
func selectorName(vs *promparser.VectorSelector) string {
	if vs.Name != "" {
		return vs.Name
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

// labelValues returns the values a query's selectors require of label name
// with an equality matcher, e.g. the jobs of job="…".
func labelValues(expr, name string) []string {
	parsed, err := promQL.ParseExpr(expr)
	if err != nil {
		return nil
	}
	var values []string
	for _, sel := range promparser.ExtractSelectors(parsed) {
		for _, m := range sel {
			if m.Name == name && m.Type == labels.MatchEqual {
				values = append(values, m.Value)
			}
		}
	}
	return values
}

// goStringMap returns the string map literal assigned to the package-level
// variable name in a Go file of the repository, so that the tests check the
// deployment files against the defaults the code really has.
func goStringMap(t testing.TB, name string, file ...string) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), repoPath(file...), nil, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", filepath.Join(file...), err)
	}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, id := range vs.Names {
				if id.Name != name || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.CompositeLit)
				if !ok {
					break
				}
				m := map[string]string{}
				for _, elt := range lit.Elts {
					kv, ok := elt.(*ast.KeyValueExpr)
					if !ok {
						continue
					}
					k, kerr := stringLit(kv.Key)
					v, verr := stringLit(kv.Value)
					if kerr != nil || verr != nil {
						t.Fatalf("%s: %s is not a map of string literals any more: update this test", filepath.Join(file...), name)
					}
					m[k] = v
				}
				return m
			}
		}
	}
	t.Fatalf("%s: no variable %s with a map literal: it was renamed or moved; update this test", filepath.Join(file...), name)
	return nil
}

func stringLit(e ast.Expr) (string, error) {
	bl, ok := e.(*ast.BasicLit)
	if !ok || bl.Kind != token.STRING {
		return "", errors.New("not a string literal")
	}
	return strconv.Unquote(bl.Value)
}

// whistleService is one of the five services as `whistle serve` runs it.
type whistleService struct {
	// Name is the service, as `whistle serve <name>` takes it.
	Name string
	// GRPCService is its API's full name, e.g. whistle.v1.IntakeService.
	GRPCService string
	// Port is its default gRPC port, MetricsPort its /metrics port.
	Port, MetricsPort string
}

// whistleServices returns the five services with the ports `whistle serve`
// uses by default (cmd/whistle) and the API each serves (proto/whistle/v1).
func whistleServices(t testing.TB) []whistleService {
	t.Helper()
	ports := goStringMap(t, "servePorts", "cmd", "whistle", "commands.go")
	metrics := goStringMap(t, "metricsPorts", "cmd", "whistle", "serve.go")
	serviceRE := regexp.MustCompile(`(?m)^service (\w+) \{`)
	var out []whistleService
	for _, name := range []string{"intake", "dispatch", "response", "evaluation", "monitoring"} {
		proto := readRepoFile(t, "proto", "whistle", "v1", name+"_service.proto")
		m := serviceRE.FindStringSubmatch(proto)
		if m == nil {
			t.Fatalf("proto/whistle/v1/%s_service.proto declares no service", name)
		}
		port, ok := ports[name]
		if !ok || metrics[name] == "" {
			t.Fatalf("cmd/whistle has no default ports for %s (servePorts %v, metricsPorts %v)", name, ports, metrics)
		}
		out = append(out, whistleService{Name: name, GRPCService: "whistle.v1." + m[1],
			Port: strings.TrimPrefix(port, ":"), MetricsPort: metrics[name]})
	}
	return out
}

// TestCheckQueryCatchesMistakes checks that checkQuery reports the mistakes the dashboard
// and alert tests rely on it to find.
func TestCheckQueryCatchesMistakes(t *testing.T) {
	known := map[string]string{"a_total": "counter", "g": "gauge", "h_bucket": "histogram"}
	for _, tc := range []struct {
		expr    string
		wantBad bool
	}{
		{`sum(rate(a_total[5m]))`, false},
		{`histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))`, false},
		{`deriv(g[10m]) > 0`, false},
		{`rate(g[5m])`, true},
		{`delta(a_total[1h])`, true},
		{`missing_metric`, true},
		{`{job="x"}`, true},
		{`sum(rate(a_total[5m])`, true},
	} {
		got := checkQuery(tc.expr, known)
		if (len(got.Problems) > 0) != tc.wantBad {
			t.Errorf("checkQuery(%q) problems %q, want problems: %v", tc.expr, got.Problems, tc.wantBad)
		}
	}
}
