package dispatch_test

import (
	"testing"
	"time"

	"github.com/whistle-civic/whistle/services/dispatch"
)

// FuzzParseCatalog feeds ParseCatalog arbitrary bytes. It must never panic,
// and a catalog it accepts must route sample reports (its first grid and
// matter, an unknown matter, no grid; every whistle kind) without panicking,
// each either to triage or to a lead department of the catalog.
// Seeds: testdata/fuzz/FuzzParseCatalog (the sample catalog and variants).
func FuzzParseCatalog(f *testing.F) {
	at := time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC) // a working Thursday morning in UTC+8
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := dispatch.ParseCatalog(data)
		if err != nil {
			if c != nil {
				t.Fatalf("ParseCatalog returned a catalog with its error %v", err)
			}
			return
		}
		var grid, matter string
		for _, u := range c.Units() {
			if u.Level == dispatch.LevelGrid {
				grid = u.ID
				break
			}
		}
		if ms := c.Matters(); len(ms) > 0 {
			matter = ms[0].Code
		}
		for _, facts := range []dispatch.Facts{
			{Category: matter, GridID: grid},
			{Category: "not-in-any-catalog", GridID: grid},
			{Category: matter},
		} {
			for kind := int32(1); kind <= 3; kind++ {
				facts.Kind = kind
				r := c.Route(facts, at)
				if r.Triage {
					continue
				}
				if _, ok := c.Department(r.Lead); !ok {
					t.Fatalf("%+v routed to lead %q, not a department of the catalog (rule %q)", facts, r.Lead, r.Rule)
				}
			}
		}
	})
}
