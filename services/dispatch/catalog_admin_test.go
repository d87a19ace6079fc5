package dispatch_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/services/dispatch"
)

var admin = &whistlev1.Actor{Id: "admin-1", OrgUnitId: "hh"}

// sampleV2 is the sample catalog with a few changes.
func sampleV2(version string) string {
	s := strings.Replace(string(dispatch.SampleCatalog), `version: "2026.11-sample"`, `version: "`+version+`"`, 1)
	i := strings.Index(s, "  - code: road_damage")
	j := i + strings.Index(s[i:], "accept_within: 2h")
	s = s[:j] + "accept_within: 1h" + s[j+len("accept_within: 2h"):]
	i = strings.Index(s, "  - code: bus_stop_damage")
	j = i + 1 + strings.Index(s[i+1:], "  - code:")
	s = s[:i] + s[j:]
	return s
}

func TestCatalogVersions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dispatch.Config{})
	ctx := context.Background()
	old := ids.New()
	f.deliver(t, reported(old, "road_damage", "xc-hd-dj-g01"))

	bad := "version: broken\norg:\n  - id: hh\n    name: x\n    level: city\nmatters:\n  - code: m\n    name: m\n    lead: {kind: nothing, level: district}\n    urgency: normal\n"
	_, err := f.client.ImportCatalog(ctx, &whistlev1.ImportCatalogRequest{Source: bad, Activate: true, Actor: admin})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), `no department of lead kind "nothing"`) ||
		!strings.Contains(err.Error(), `matter "m" has no deadlines`) {
		t.Fatalf("bad catalog: %v", err)
	}
	imp, err := f.client.ImportCatalog(ctx, &whistlev1.ImportCatalogRequest{Source: sampleV2("2026.12"), Activate: true, Actor: admin})
	if err != nil || !imp.GetCreated() || !imp.GetVersion().GetActive() {
		t.Fatalf("import v2: %v, %v", imp, err)
	}
	again, err := f.client.ImportCatalog(ctx, &whistlev1.ImportCatalogRequest{Source: sampleV2("2026.12"), Actor: admin})
	if err != nil || again.GetCreated() {
		t.Fatalf("importing the same source again: %v, %v", again, err)
	}
	clash := strings.Replace(sampleV2("2026.12"), "accept_within: 1h", "accept_within: 3h", 1)
	if _, err := f.client.ImportCatalog(ctx, &whistlev1.ImportCatalogRequest{Source: clash, Actor: admin}); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("a different catalog under a stored version: %v", err)
	}
	list, err := f.client.ListCatalogs(ctx, &whistlev1.ListCatalogsRequest{})
	if err != nil || len(list.GetVersions()) != 2 {
		t.Fatalf("list: %v, %v", list, err)
	}
	active, _ := f.client.GetCatalog(ctx, &whistlev1.GetCatalogRequest{})
	if active.GetVersion() != "2026.12" || !active.GetActive() || active.GetCalendar().GetTimeZone() != "Asia/Shanghai" {
		t.Fatalf("active catalog %s", active.GetVersion())
	}
	diff, err := f.client.DiffCatalogs(ctx, &whistlev1.DiffCatalogsRequest{From: "2026.11-sample", To: "2026.12"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range diff.GetChanges() {
		got = append(got, c.GetKind()+" "+c.GetEntity()+" "+c.GetId()+" "+c.GetDetail())
	}
	want := []string{"removed matter bus_stop_damage ", "changed matter road_damage accept_within 2h0m0s → 1h0m0s"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("diff\n got %q\nwant %q", got, want)
	}
	// New tickets route by the new version; old ones keep theirs.
	fresh := ids.New()
	f.deliver(t, reported(fresh, "road_damage", "xc-hd-dj-g01"))
	if v := f.assignment(t, fresh).GetCatalogVersion(); v != "2026.12" {
		t.Fatalf("new ticket routed by %s", v)
	}
	if ex, _ := f.client.ExplainRouting(ctx, &whistlev1.ExplainRoutingRequest{TicketId: old}); ex.GetCatalogVersion() != "2026.11-sample" {
		t.Fatalf("old ticket explained by %s", ex.GetCatalogVersion())
	}
	if _, err := f.client.ActivateCatalog(ctx, &whistlev1.ActivateCatalogRequest{Version: "nope", Actor: admin}); status.Code(err) != codes.NotFound {
		t.Fatalf("activate unknown: %v", err)
	}
	if _, err := f.client.GetCatalog(ctx, &whistlev1.GetCatalogRequest{Version: "nope"}); status.Code(err) != codes.NotFound {
		t.Fatalf("get unknown: %v", err)
	}
}

// A replica follows an activation made elsewhere without a restart.
func TestReplicaFollowsActivation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dispatch.Config{})
	replica, err := dispatch.New(context.Background(), f.deps, dispatch.Config{CatalogPoll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- replica.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if _, err := f.client.ImportCatalog(context.Background(), &whistlev1.ImportCatalogRequest{Source: sampleV2("2027.01"), Activate: true, Actor: admin}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for replica.Catalog().Version != "2027.01" {
		if time.Now().After(deadline) {
			t.Fatalf("replica still routes by %s", replica.Catalog().Version)
		}
		// The notification may precede the replica's LISTEN; activate again to nudge it.
		_, _ = f.client.ActivateCatalog(context.Background(), &whistlev1.ActivateCatalogRequest{Version: "2027.01", Actor: admin})
		time.Sleep(20 * time.Millisecond)
	}
}

// orgTrees returns the org trees dispatch announced, oldest first.
func orgTrees(t *testing.T, f *fixture) []*whistlev1.OrgTree {
	t.Helper()
	rows, err := f.deps.DB.Pool.Query(context.Background(), "SELECT payload FROM outbox ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []*whistlev1.OrgTree
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		ev, err := events.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if tree := ev.GetOrgTree(); tree != nil {
			out = append(out, tree)
		}
	}
	return out
}

// TestOrgTreeIsAnnouncedAtStartAndOnActivation: every service decides who
// may act where by the tree dispatch routes by.
func TestOrgTreeIsAnnouncedAtStartAndOnActivation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dispatch.Config{})
	trees := orgTrees(t, f)
	if len(trees) != 1 || trees[0].GetCatalogVersion() != "2026.11-sample" {
		t.Fatalf("trees announced at start: %v", trees)
	}
	parents := map[string]string{}
	for _, u := range trees[0].GetUnits() {
		parents[u.GetId()+"/"+u.GetLevel()] = u.GetParentId()
	}
	for unit, parent := range map[string]string{"hh/city": "", "xc/district": "hh", "xc-hd/street": "xc",
		"xc-hd-dj/community": "xc-hd", "xc-hd-dj-g01/grid": "xc-hd-dj", "xc-urban/department": "xc", "hh-water/department": "hh"} {
		if got, ok := parents[unit]; !ok || got != parent {
			t.Errorf("%s: parent %q (present %v), want %q", unit, got, ok, parent)
		}
	}
	if _, err := f.client.ImportCatalog(context.Background(), &whistlev1.ImportCatalogRequest{Source: sampleV2("2026.12"),
		Activate: true, Actor: admin}); err != nil {
		t.Fatal(err)
	}
	if trees = orgTrees(t, f); len(trees) != 2 || trees[1].GetCatalogVersion() != "2026.12" {
		t.Fatalf("trees after activating 2026.12: %d, last %q", len(trees), trees[len(trees)-1].GetCatalogVersion())
	}
}
