package dispatch_test

import (
	"testing"
	"time"

	"github.com/whistle-civic/whistle/services/dispatch"
)

// BenchmarkRoute measures Catalog.Route, the routing DispatchReported does
// for every reported ticket, by the sample catalog (seed/catalog.yaml): one
// daily whistle per op, its grid and matter taken round robin from the
// catalog's grids and matters, on a working morning.
func BenchmarkRoute(b *testing.B) {
	c, err := dispatch.ParseCatalog(dispatch.SampleCatalog)
	if err != nil {
		b.Fatal(err)
	}
	var grids []string
	for _, u := range c.Units() {
		if u.Level == dispatch.LevelGrid {
			grids = append(grids, u.ID)
		}
	}
	matters := c.Matters()
	if len(grids) == 0 || len(matters) == 0 {
		b.Fatalf("sample catalog has %d grids and %d matters", len(grids), len(matters))
	}
	at := time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC) // Thursday 10:00 in the city
	routed, i := 0, 0
	b.ReportAllocs()
	for b.Loop() {
		r := c.Route(dispatch.Facts{Category: matters[i%len(matters)].Code, GridID: grids[i%len(grids)], Kind: 1}, at)
		if r.Lead != "" {
			routed++
		}
		i++
	}
	if routed == 0 {
		b.Fatal("no ticket was routed to a department")
	}
}
