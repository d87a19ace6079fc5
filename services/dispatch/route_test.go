package dispatch_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/services/dispatch"
)

var now = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

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
		accept     time.Duration
		resolve    time.Duration
		ruleSubstr string
	}{
		{name: "district matter goes to the grid's district", facts: dispatch.Facts{Category: "road_damage", GridID: "xc-hd-dj-g01", Kind: 1},
			lead: "xc-urban", accept: 2 * time.Hour, resolve: 72 * time.Hour, ruleSubstr: "road_damage"},
		{name: "same matter in another district", facts: dispatch.Facts{Category: "road_damage", GridID: "yq-ht-dls-g02", Kind: 1},
			lead: "yq-urban", accept: 2 * time.Hour, resolve: 72 * time.Hour},
		{name: "city-level matter", facts: dispatch.Facts{Category: "bus_stop_damage", GridID: "xc-hd-dj-g01", Kind: 1},
			lead: "hh-transport"},
		{name: "assisting departments", facts: dispatch.Facts{Category: "river_pollution", GridID: "xc-hd-dj-g01", Kind: 1},
			lead: "xc-env", assisting: []string{"xc-water"}},
		{name: "emergency caps deadlines", facts: dispatch.Facts{Category: "road_damage", GridID: "xc-hd-dj-g01", Kind: 3},
			lead: "xc-urban", accept: 15 * time.Minute, resolve: 24 * time.Hour, ruleSubstr: "emergency"},
		{name: "tough doubles resolve time", facts: dispatch.Facts{Category: "road_damage", GridID: "xc-hd-dj-g01", Kind: 2},
			lead: "xc-urban", accept: 2 * time.Hour, resolve: 144 * time.Hour},
		{name: "off-catalog matter waits at the street", facts: dispatch.Facts{Category: "ufo_sighting", GridID: "xc-hd-dj-g01", Kind: 1},
			triage: "xc-hd", ruleSubstr: "清单外事项"},
		{name: "unknown grid waits at the city", facts: dispatch.Facts{Category: "road_damage", GridID: "nowhere", Kind: 1},
			triage: "hh", ruleSubstr: "not in catalog"},
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
			if tt.accept != 0 && (r.AcceptDue.Sub(now) != tt.accept || r.ResolveDue.Sub(now) != tt.resolve) {
				t.Fatalf("deadlines +%s/+%s, want +%s/+%s", r.AcceptDue.Sub(now), r.ResolveDue.Sub(now), tt.accept, tt.resolve)
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
    urgency: normal
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
		`no department of assisting kind "magic"`, `matter "m2" appears twice`, `deadline "soon" is not a duration`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	if _, err := dispatch.ParseCatalog([]byte("version: x\nunknown_key: 1\n")); !errors.Is(err, dispatch.ErrBadCatalog) {
		t.Errorf("unknown key: %v", err)
	}
}
