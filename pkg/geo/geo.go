// Package geo finds what lies near a point on the Earth: points are indexed
// by the S2 cell that holds them (github.com/golang/geo, Google's spherical
// geometry), a circle is covered by a few cell ranges for an index lookup,
// and distances are exact great-circle ones.
//
// Store Cell(p) in a bigint column with a B-tree index; to find the points
// within r metres of p, ask for those whose cell lies in one of Cover(p, r)'s
// ranges (a superset), then keep those with Distance(p, q) <= r.
package geo

import (
	"fmt"
	"math"
	"strings"

	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// EarthRadius is the mean Earth radius in metres (IUGG), the sphere
// distances are measured on; the error against the ellipsoid is under 0.5 %.
const EarthRadius = 6_371_008.8

// Point is a place in degrees (WGS 84 latitude and longitude).
type Point struct {
	Lat, Lng float64
}

// Valid reports whether p is a latitude in [-90, 90] and a longitude in
// [-180, 180].
func (p Point) Valid() bool {
	return p.Lat >= -90 && p.Lat <= 90 && p.Lng >= -180 && p.Lng <= 180 && !math.IsNaN(p.Lat) && !math.IsNaN(p.Lng)
}

func (p Point) latLng() s2.LatLng { return s2.LatLngFromDegrees(p.Lat, p.Lng) }

// Cell returns the S2 leaf cell (about 1 cm) holding p, as a signed 64-bit
// integer for a bigint column. Cells of one face keep their order as signed
// integers, and no range of Cover crosses a face, so BETWEEN works on them.
func Cell(p Point) int64 {
	return int64(uint64(s2.CellIDFromLatLng(p.latLng()))) //nolint:gosec // the bits are kept, the order within a face too
}

// Range is an inclusive range of Cell values.
type Range struct {
	Min, Max int64
}

// coverer covers circles of up to some kilometres with at most 8 cells of
// level 10 (about 10 km) to 18 (about 40 m).
var coverer = &s2.RegionCoverer{MinLevel: 10, MaxLevel: 18, MaxCells: 8}

// Cover returns the cell ranges whose union holds every point within
// radius metres of p (and some more, which Distance then leaves out).
func Cover(p Point, radius float64) []Range {
	c := s2.CapFromCenterAngle(s2.PointFromLatLng(p.latLng()), s1.Angle(radius/EarthRadius))
	union := coverer.Covering(c)
	out := make([]Range, len(union))
	for i, id := range union {
		out[i] = Range{Min: int64(uint64(id.RangeMin())), Max: int64(uint64(id.RangeMax()))} //nolint:gosec // as Cell
	}
	return out
}

// Distance returns the great-circle distance between a and b in metres.
func Distance(a, b Point) float64 {
	return float64(a.latLng().Distance(b.latLng())) * EarthRadius
}

// Where returns an SQL condition that column (a bigint of Cell values) lies
// in one of rs, with its parameters numbered from $first, and the arguments
// to pass: "(cell BETWEEN $2 AND $3 OR cell BETWEEN $4 AND $5)". Written out
// range by range, PostgreSQL scans the index once a range; a join to an
// array of ranges reads every row of the other conditions instead.
func Where(column string, rs []Range, first int) (string, []any) {
	if len(rs) == 0 {
		return "false", nil
	}
	var b strings.Builder
	args := make([]any, 0, 2*len(rs))
	b.WriteString("(")
	for i, r := range rs {
		if i > 0 {
			b.WriteString(" OR ")
		}
		fmt.Fprintf(&b, "%s BETWEEN $%d AND $%d", column, first+2*i, first+2*i+1)
		args = append(args, r.Min, r.Max)
	}
	b.WriteString(")")
	return b.String(), args
}
