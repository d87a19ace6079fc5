package dispatch_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/services/dispatch"
)

// now is Thursday 2026-11-26 10:00 in Hohhot time (UTC+8), a working morning.
var now = time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)

func sample(t *testing.T) *dispatch.Catalog {
	t.Helper()
	c, err := dispatch.ParseCatalog(dispatch.SampleCatalog)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSampleCatalogIsRich(t *testing.T) {
	t.Parallel()
	c := sample(t)
	levels := map[dispatch.Level]int{}
	for _, u := range c.Units() {
		levels[u.Level]++
	}
	if levels[dispatch.LevelDistrict] < 2 || levels[dispatch.LevelStreet] < 4 || levels[dispatch.LevelGrid] < 8 || len(c.Matters()) < 20 {
		t.Fatalf("sample catalog too small: %v units by level, %d matters", levels, len(c.Matters()))
	}
}

func TestRoute(t *testing.T) {
	t.Parallel()
	c := sample(t)
	tests := []struct {
		name       string
		facts      dispatch.Facts
		triage     string // triage org unit, or "" when routed
		lead       string
		assisting  []string
		accept     string // windows
		resolve    string
		acceptDue  string // in UTC+8
		ruleSubstr string
	}{
		{name: "district matter goes to the grid's district", facts: dispatch.Facts{Category: "road_damage", GridID: "xc-hd-dj-g01", Kind: 1},
			lead: "xc-urban", accept: "2h0m0s", resolve: "3d", acceptDue: "2026-11-26 12:00", ruleSubstr: "road_damage"},
		{name: "same matter in another district", facts: dispatch.Facts{Category: "road_damage", GridID: "yq-ht-dls-g02", Kind: 1},
			lead: "yq-urban", accept: "2h0m0s", resolve: "3d"},
		{name: "city-level matter", facts: dispatch.Facts{Category: "bus_stop_damage", GridID: "xc-hd-dj-g01", Kind: 1},
			lead: "hh-transport"},
		{name: "assisting departments", facts: dispatch.Facts{Category: "river_pollution", GridID: "xc-hd-dj-g01", Kind: 1},
			lead: "xc-env", assisting: []string{"xc-water"}},
		{name: "emergency caps deadlines in wall-clock time", facts: dispatch.Facts{Category: "road_damage", GridID: "xc-hd-dj-g01", Kind: 3},
			lead: "xc-urban", accept: "15m0s", resolve: "24h0m0s", acceptDue: "2026-11-26 10:15", ruleSubstr: "emergency"},
		{name: "tough doubles the resolve window", facts: dispatch.Facts{Category: "road_damage", GridID: "xc-hd-dj-g01", Kind: 2},
			lead: "xc-urban", accept: "2h0m0s", resolve: "6d"},
		{name: "critical matter counts wall-clock time", facts: dispatch.Facts{Category: "gas_smell", GridID: "xc-hd-dj-g01", Kind: 1},
			lead: "xc-housing", accept: "10m0s", acceptDue: "2026-11-26 10:10", ruleSubstr: "critical"},
		{name: "matter decided case by case", facts: dispatch.Facts{Category: "other_public_affairs", GridID: "xc-hd-dj-g01", Kind: 1},
			triage: "xc-hd", ruleSubstr: "case by case"},
		{name: "off-catalog matter waits at the street", facts: dispatch.Facts{Category: "ufo_sighting", GridID: "xc-hd-dj-g01", Kind: 1},
			triage: "xc-hd", ruleSubstr: "清单外事项"},
		{name: "unknown grid waits at the city", facts: dispatch.Facts{Category: "road_damage", GridID: "nowhere", Kind: 1},
			triage: "hh", ruleSubstr: "not a grid of catalog"},
		{name: "no grid waits at the city", facts: dispatch.Facts{Category: "road_damage", Kind: 1},
			triage: "hh", ruleSubstr: "no grid"},
		{name: "a street is not a grid", facts: dispatch.Facts{Category: "road_damage", GridID: "xc-hd", Kind: 1},
			triage: "hh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := c.Route(tt.facts, now)
			if tt.triage != "" {
				if !r.Triage || r.TriageOrgUnit != tt.triage || r.Lead != "" {
					t.Fatalf("route %+v, want triage at %s", r, tt.triage)
				}
			} else if r.Triage || r.Lead != tt.lead {
				t.Fatalf("route %+v, want lead %s", r, tt.lead)
			}
			if tt.assisting != nil && strings.Join(r.Assisting, ",") != strings.Join(tt.assisting, ",") {
				t.Fatalf("assisting %v, want %v", r.Assisting, tt.assisting)
			}
			if tt.accept != "" && r.AcceptWithin.String() != tt.accept {
				t.Fatalf("accept window %s, want %s", r.AcceptWithin, tt.accept)
			}
			if tt.resolve != "" && r.ResolveWithin.String() != tt.resolve {
				t.Fatalf("resolve window %s, want %s", r.ResolveWithin, tt.resolve)
			}
			if tt.acceptDue != "" {
				if got := r.AcceptDue.In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04"); got != tt.acceptDue {
					t.Fatalf("accept due %s, want %s", got, tt.acceptDue)
				}
			}
			if tt.triage == "" && len(r.Steps) < 4 {
				t.Fatalf("explanation too thin: %v", r.Steps)
			}
			if !strings.Contains(r.Rule, tt.ruleSubstr) {
				t.Fatalf("rule %q lacks %q", r.Rule, tt.ruleSubstr)
			}
		})
	}
}

func TestBadCatalogListsEveryProblem(t *testing.T) {
	t.Parallel()
	bad := `
version: "broken"
city_code: "HH"
org:
  - id: c
    name: C
    level: city
    children:
      - id: d
        name: D
        level: district
        children:
          - id: g
            name: grid straight under a district
            level: grid
departments:
  - id: d-urban
    name: U
    kind: urban
    org_unit: g
  - id: d-urban
    name: U again
    kind: urban
    org_unit: d
matters:
  - code: m1
    name: no deadlines
    lead: {kind: urban, level: district}
    assist: []
    urgency: someday
  - code: m2
    name: unknown kind
    lead: {kind: plumbing, level: district}
    assist: [magic]
    urgency: normal
    accept_within: 1h
    resolve_within: 2h
  - code: m2
    name: duplicate code
    lead: {kind: urban, level: district}
    assist: []
    urgency: normal
    accept_within: soon
    resolve_within: 2h
`
	_, err := dispatch.ParseCatalog([]byte(bad))
	if !errors.Is(err, dispatch.ErrBadCatalog) {
		t.Fatalf("err = %v, want ErrBadCatalog", err)
	}
	for _, want := range []string{
		`grid "g" sits under district "d"`, `department "d-urban" appears twice`,
		`department "d-urban" belongs to "g", which is not a city or district`,
		`matter "m1" has no deadlines`, `no department of lead kind "plumbing"`,
		`no department of assisting kind "magic"`, `matter "m2" appears twice`, `urgency "someday"`, `window "soon" is not like 3d`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	if _, err := dispatch.ParseCatalog([]byte("version: x\nunknown_key: 1\n")); !errors.Is(err, dispatch.ErrBadCatalog) {
		t.Errorf("unknown key: %v", err)
	}
}
