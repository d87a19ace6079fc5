package validate

import (
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/model/rulefmt"
)

var (
	prometheusFile = []string{"deploy", "observability", "prometheus.yml"}
	alertsFile     = []string{"deploy", "observability", "alerts.yaml"}
)

// scrapeTarget is one static target of prometheus.yml.
type scrapeTarget struct {
	job, host, port string
	labels          model.LabelSet
}

// loadPrometheus loads prometheus.yml as Prometheus does and returns it with
// its static targets.
func loadPrometheus(t testing.TB) (*config.Config, []scrapeTarget) {
	t.Helper()
	cfg, err := config.LoadFile(repoPath(prometheusFile...), false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Prometheus refuses %s: %v", filepath.Join(prometheusFile...), err)
	}
	var targets []scrapeTarget
	for _, sc := range cfg.ScrapeConfigs {
		for _, sd := range sc.ServiceDiscoveryConfigs {
			static, ok := sd.(discovery.StaticConfig)
			if !ok {
				t.Fatalf("job %s: only static_configs are expected in the compose stack, found %T", sc.JobName, sd)
			}
			for _, g := range static {
				for _, tg := range g.Targets {
					host, port, err := net.SplitHostPort(string(tg[model.AddressLabel]))
					if err != nil {
						t.Fatalf("job %s: target %q: %v", sc.JobName, tg[model.AddressLabel], err)
					}
					targets = append(targets, scrapeTarget{job: sc.JobName, host: host, port: port, labels: g.Labels})
				}
			}
		}
	}
	return cfg, targets
}

// TestPrometheusConfigLoads checks that Prometheus accepts prometheus.yml and that it
// loads alerts.yaml.
func TestPrometheusConfigLoads(t *testing.T) {
	cfg, _ := loadPrometheus(t)
	want, _ := filepath.Abs(repoPath(alertsFile...))
	found := false
	for _, rf := range cfg.RuleFiles {
		abs, _ := filepath.Abs(rf)
		if abs == want {
			found = true
		}
	}
	if !found {
		t.Errorf("prometheus.yml's rule_files %v do not load alerts.yaml", cfg.RuleFiles)
	}
}

// TestPrometheusScrapesEveryService checks that Prometheus scrapes every service on its
// default metrics port, with its service label, and the collector.
func TestPrometheusScrapesEveryService(t *testing.T) {
	_, targets := loadPrometheus(t)
	p := loadCompose(t, nil)
	seen := map[string]bool{}
	for _, tg := range targets {
		if tg.host == "localhost" {
			continue // Prometheus itself
		}
		if _, ok := p.Services[tg.host]; !ok {
			t.Errorf("job %s scrapes %s:%s, which is no service of the compose stack", tg.job, tg.host, tg.port)
		}
		seen[tg.host+":"+tg.port] = true
		if tg.job == "whistle" && string(tg.labels["service"]) != tg.host {
			t.Errorf("job whistle: target %s:%s has service label %q, want %q (the dashboard and alerts group by it)",
				tg.host, tg.port, tg.labels["service"], tg.host)
		}
	}
	for _, ws := range whistleServices(t) {
		addr := ws.Name + ":" + ws.MetricsPort
		if !seen[addr] {
			t.Errorf("Prometheus does not scrape %s (%s's /metrics port)", addr, ws.Name)
		}
		// serve's default is 127.0.0.1:<port>, which Prometheus, in another container, cannot reach.
		if got := environment(p.Services[ws.Name])["WHISTLE_METRICS_ADDR"]; got != ":"+ws.MetricsPort {
			t.Errorf("%s: WHISTLE_METRICS_ADDR %q, want %q: the container's every interface, on the port prometheus.yml scrapes",
				ws.Name, got, ":"+ws.MetricsPort)
		}
	}
	for _, port := range collectorMetricPorts(t) {
		if !seen["otel-collector:"+port] {
			t.Errorf("Prometheus does not scrape the collector's metrics on otel-collector:%s", port)
		}
	}
}

// parseAlerts parses alerts.yaml with Prometheus's own rule parser, which
// also checks every expression and template.
func parseAlerts(t testing.TB) *rulefmt.RuleGroups {
	t.Helper()
	groups, errs := rulefmt.ParseFile(repoPath(alertsFile...), false, model.UTF8Validation, promQL, slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Errorf("Prometheus refuses the rules: %v", err)
	}
	if len(errs) > 0 {
		t.FailNow()
	}
	return groups
}

// TestAlertRules parses alerts.yaml with Prometheus's rule parser and checks every
// alert: severity, annotations, known metrics used the way their types allow,
// jobs that are scraped.
func TestAlertRules(t *testing.T) {
	groups := parseAlerts(t)
	known := knownMetrics(t)
	cfg, _ := loadPrometheus(t)
	var jobs []string
	for _, sc := range cfg.ScrapeConfigs {
		jobs = append(jobs, sc.JobName)
	}
	names := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: rule %q is not an alert; alerts.yaml holds alerts only", g.Name, r.Record)
				continue
			}
			if names[r.Alert] {
				t.Errorf("alert %s is defined twice", r.Alert)
			}
			names[r.Alert] = true
			if sev := r.Labels["severity"]; sev != "warning" && sev != "critical" {
				t.Errorf("alert %s: severity %q, want warning or critical", r.Alert, sev)
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("alert %s has no %s annotation: say what is wrong and what to do", r.Alert, a)
				}
			}
			check := checkQuery(r.Expr, known)
			for _, problem := range check.Problems {
				t.Errorf("alert %s: %s", r.Alert, problem)
			}
			if len(check.Metrics) == 0 {
				t.Errorf("alert %s selects no metric", r.Alert)
			}
			for _, job := range labelValues(r.Expr, "job") {
				if !slices.Contains(jobs, job) {
					t.Errorf("alert %s selects job=%q, which prometheus.yml does not scrape (jobs %v)", r.Alert, job, jobs)
				}
			}
		}
	}
	if len(names) == 0 {
		t.Fatal("alerts.yaml defines no alert")
	}
}

// TestAlertsCoverTheFailuresOpsWatch checks that each failure docs/degradation.md names has
// an alert on the metric that shows it.
func TestAlertsCoverTheFailuresOpsWatch(t *testing.T) {
	// Each failure the runbook (docs/degradation.md) names has an alert on
	// the metric that shows it.
	groups := parseAlerts(t)
	known := knownMetrics(t)
	used := map[string][]string{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			for _, m := range checkQuery(r.Expr, known).Metrics {
				used[m] = append(used[m], r.Alert)
			}
		}
	}
	for metric, what := range map[string]string{
		"up":                                     "a service down",
		"whistle_health_check_ok":                "a failing /readyz check",
		"whistle_outbox_oldest_age_seconds":      "a stuck outbox (oldest unsent event too old)",
		"whistle_outbox_pending":                 "an outbox that does not drain",
		"whistle_consumer_lag":                   "growing consumer lag",
		"whistle_consumer_dead_letters_pending":  "dead letters waiting",
		"whistle_consumer_dead_letters_total":    "events being dead-lettered",
		"whistle_tickets_overdue":                "overdue tickets rising (SLA breaches)",
		"whistle_consumer_messages_total":        "escalations and retries",
		"rpc_server_call_duration_seconds_count": "errors by gRPC code",
	} {
		if len(used[metric]) == 0 {
			t.Errorf("no alert uses %s: add one for %s", metric, what)
		}
	}
}
