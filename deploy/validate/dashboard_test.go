package validate

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"sigs.k8s.io/yaml"
)

var (
	dashboardFile   = []string{"deploy", "observability", "grafana", "dashboards", "whistle-loop.json"}
	datasourcesFile = []string{"deploy", "observability", "grafana", "provisioning", "datasources", "whistle.yaml"}
	providersFile   = []string{"deploy", "observability", "grafana", "provisioning", "dashboards", "whistle.yaml"}
)

// grafanaDashboard is the part of Grafana's dashboard JSON the tests check.
type grafanaDashboard struct {
	UID        string         `json:"uid"`
	Title      string         `json:"title"`
	Panels     []grafanaPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string      `json:"name"`
			Type       string      `json:"type"`
			Definition string      `json:"definition"`
			Datasource *grafanaRef `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type grafanaPanel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *grafanaRef `json:"datasource"`
	GridPos    struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string      `json:"refId"`
		Expr       string      `json:"expr"`
		Datasource *grafanaRef `json:"datasource"`
	} `json:"targets"`
	// Panels are a collapsed row's panels.
	Panels []grafanaPanel `json:"panels"`
}

type grafanaRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// grafanaDatasources is Grafana's datasource provisioning file.
type grafanaDatasources struct {
	APIVersion  int `json:"apiVersion"`
	Datasources []struct {
		Name string `json:"name"`
		UID  string `json:"uid"`
		Type string `json:"type"`
		URL  string `json:"url"`
	} `json:"datasources"`
}

func loadDashboard(t testing.TB) grafanaDashboard {
	t.Helper()
	var d grafanaDashboard
	if err := json.Unmarshal([]byte(readRepoFile(t, dashboardFile...)), &d); err != nil {
		t.Fatalf("%s is not a dashboard: %v", filepath.Join(dashboardFile...), err)
	}
	return d
}

// datasourceUID returns the uid of the provisioned datasource of a type.
func datasourceUID(t testing.TB, typ string) string {
	t.Helper()
	var ds grafanaDatasources
	if err := yaml.Unmarshal([]byte(readRepoFile(t, datasourcesFile...)), &ds); err != nil {
		t.Fatalf("%s: %v", filepath.Join(datasourcesFile...), err)
	}
	for _, d := range ds.Datasources {
		if d.Type == typ {
			return d.UID
		}
	}
	t.Fatalf("%s provisions no %s datasource", filepath.Join(datasourcesFile...), typ)
	return ""
}

// allPanels returns the dashboard's panels, those of collapsed rows included.
func allPanels(d grafanaDashboard) []grafanaPanel {
	var out []grafanaPanel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// grafanaInterval matches Grafana's interval variables, which PromQL cannot parse.
var grafanaInterval = regexp.MustCompile(`\$\{?__(rate_interval|interval|range)\}?`)

// promQLOf turns a panel's query into PromQL: Grafana's interval variables
// become 5m and the dashboard's own variables ".*" (they are used in regex
// matchers). Any other variable is left and fails to parse.
func promQLOf(expr string, vars []string) string {
	expr = grafanaInterval.ReplaceAllString(expr, "5m")
	for _, v := range vars {
		expr = strings.ReplaceAll(expr, "${"+v+"}", ".*")
		expr = regexp.MustCompile(`\$`+regexp.QuoteMeta(v)+`\b`).ReplaceAllString(expr, ".*")
	}
	return expr
}

// TestDashboardPanels checks the dashboard's panels: titles, unique ids, the
// provisioned Prometheus as datasource, and a layout without overlaps.
func TestDashboardPanels(t *testing.T) {
	d := loadDashboard(t)
	promUID := datasourceUID(t, "prometheus")
	if d.UID == "" || d.Title == "" {
		t.Errorf("the dashboard needs a uid and a title (links and provisioning find it by uid)")
	}
	ids := map[int]string{}
	type rect struct {
		title      string
		x, y, w, h int
	}
	var placed []rect
	for _, p := range allPanels(d) {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if strings.TrimSpace(p.Title) == "" {
			t.Errorf("panel %d (%s) has no title", p.ID, p.Type)
		}
		g := p.GridPos
		if g.W < 1 || g.H < 1 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v lies outside Grafana's 24 columns", p.Title, g)
		}
		for _, r := range placed {
			if g.X < r.x+r.w && r.x < g.X+g.W && g.Y < r.y+r.h && r.y < g.Y+g.H {
				t.Errorf("panels %q and %q overlap", r.title, p.Title)
			}
		}
		placed = append(placed, rect{p.Title, g.X, g.Y, g.W, g.H})
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != promUID || p.Datasource.Type != "prometheus" {
			t.Errorf("panel %q: datasource %+v, want the provisioned Prometheus (uid %q)", p.Title, p.Datasource, promUID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if refs[tg.RefID] || tg.RefID == "" {
				t.Errorf("panel %q: refId %q is empty or repeated", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if tg.Datasource != nil && tg.Datasource.UID != promUID {
				t.Errorf("panel %q, query %s: datasource uid %q, want %q", p.Title, tg.RefID, tg.Datasource.UID, promUID)
			}
		}
	}
}

// TestDashboardQueries checks that every query of the dashboard parses as PromQL and
// uses only metrics the services expose, the way their types allow.
func TestDashboardQueries(t *testing.T) {
	d := loadDashboard(t)
	known := knownMetrics(t)
	cfg, _ := loadPrometheus(t)
	var jobs, vars []string
	for _, sc := range cfg.ScrapeConfigs {
		jobs = append(jobs, sc.JobName)
	}
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
	}
	check := func(where, expr string) {
		if strings.TrimSpace(expr) == "" {
			t.Errorf("%s: empty query", where)
			return
		}
		q := promQLOf(expr, vars)
		for _, problem := range checkQuery(q, known).Problems {
			t.Errorf("%s: %s\n\tquery: %s", where, problem, expr)
		}
		for _, job := range labelValues(q, "job") {
			if !slices.Contains(jobs, job) {
				t.Errorf("%s selects job=%q, which prometheus.yml does not scrape (jobs %v)", where, job, jobs)
			}
		}
	}
	for _, p := range allPanels(d) {
		for _, tg := range p.Targets {
			check(fmt.Sprintf("panel %q, query %s", p.Title, tg.RefID), tg.Expr)
		}
	}
	labelValuesRE := regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValuesRE.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(<selector>, <label>)", v.Name, v.Definition)
			continue
		}
		check("variable "+v.Name, m[1])
	}
}

// TestDashboardCoversTheLoop checks that the dashboard shows throughput, latency,
// deadlines, outboxes, consumer lag, dead letters and errors.
func TestDashboardCoversTheLoop(t *testing.T) {
	d := loadDashboard(t)
	known := knownMetrics(t)
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
	}
	used := map[string]bool{}
	for _, p := range allPanels(d) {
		for _, tg := range p.Targets {
			for _, m := range checkQuery(promQLOf(tg.Expr, vars), known).Metrics {
				used[m] = true
			}
		}
	}
	for metric, what := range map[string]string{
		"rpc_server_call_duration_seconds_count":   "calls per stage and errors by gRPC code",
		"rpc_server_call_duration_seconds_bucket":  "latency per stage",
		"whistle_consumer_messages_total":          "events handled per consumer",
		"whistle_consumer_duration_seconds_bucket": "event handling latency",
		"whistle_tickets_overdue":                  "overdue tickets",
		"whistle_outbox_pending":                   "outbox backlog",
		"whistle_outbox_oldest_age_seconds":        "outbox lag",
		"whistle_consumer_lag":                     "consumer lag",
		"whistle_consumer_dead_letters_pending":    "dead letters",
	} {
		if !used[metric] {
			t.Errorf("no panel shows %s (%s)", metric, what)
		}
	}
}

// TestGrafanaProvisioning checks that Grafana finds the provisioned datasources and the
// dashboard where compose mounts them, and that the datasources name services.
func TestGrafanaProvisioning(t *testing.T) {
	p := loadCompose(t, nil)
	g := p.Services["grafana"]
	mounts := map[string]string{} // repository folder → container path
	for _, v := range g.Volumes {
		if v.Type == types.VolumeTypeBind {
			mounts[filepath.Clean(v.Source)] = v.Target
		}
	}
	provisioning := mounts[filepath.Clean(repoPath("deploy", "observability", "grafana", "provisioning"))]
	if provisioning != "/etc/grafana/provisioning" {
		t.Errorf("grafana mounts the provisioning folder at %q, want /etc/grafana/provisioning (where Grafana reads it)", provisioning)
	}
	dashboards := mounts[filepath.Clean(filepath.Dir(repoPath(dashboardFile...)))]
	if dashboards == "" {
		t.Fatalf("grafana does not mount %s", filepath.Dir(filepath.Join(dashboardFile...)))
	}

	var providers struct {
		Providers []struct {
			Type    string `json:"type"`
			Options struct {
				Path string `json:"path"`
			} `json:"options"`
		} `json:"providers"`
	}
	if err := yaml.Unmarshal([]byte(readRepoFile(t, providersFile...)), &providers); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, pr := range providers.Providers {
		if pr.Type == "file" && filepath.Clean(pr.Options.Path) == dashboards {
			found = true
		}
	}
	if !found {
		t.Errorf("no dashboard provider in %s reads %s, where compose mounts the dashboards", filepath.Join(providersFile...), dashboards)
	}
	if home := environment(g)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home != dashboards+"/"+filepath.Base(repoPath(dashboardFile...)) {
		t.Errorf("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH %q is not the mounted whistle-loop.json", home)
	}

	var ds grafanaDatasources
	if err := yaml.Unmarshal([]byte(readRepoFile(t, datasourcesFile...)), &ds); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"prometheus": "prometheus:9090", "jaeger": "jaeger:16686"}
	for _, d := range ds.Datasources {
		u, err := url.Parse(d.URL)
		if err != nil {
			t.Errorf("datasource %s: url %q: %v", d.Name, d.URL, err)
			continue
		}
		if w, ok := want[d.Type]; ok && u.Host != w {
			t.Errorf("datasource %s points at %s, want %s (the compose service)", d.Name, u.Host, w)
		}
		if _, ok := p.Services[u.Hostname()]; !ok {
			t.Errorf("datasource %s points at %s, which is no service of the compose stack", d.Name, u.Hostname())
		}
		delete(want, d.Type)
	}
	for typ := range want {
		t.Errorf("no %s datasource is provisioned", typ)
	}
	if _, err := os.Stat(repoPath(dashboardFile...)); err != nil {
		t.Error(err)
	}
}
