package monitoring

import (
	"fmt"
	"testing"
)

func TestSpanCutsPeriodsIntoWholeMonthsAndDays(t *testing.T) {
	t.Parallel()
	show := func(r [2]string) string {
		if r == none {
			return "-"
		}
		return r[0] + ".." + r[1]
	}
	for _, tc := range []struct{ from, to, want string }{
		{"2026-11-02", "2026-11-08", "2026-11-02..2026-11-08 | - | -"},
		{"2026-11-01", "2026-11-30", "- | 2026-11-01..2026-11-01 | -"},
		{"2026-01-01", "2026-12-31", "- | 2026-01-01..2026-12-01 | -"},
		{"2026-10-15", "2026-12-10", "2026-10-15..2026-10-31 | 2026-11-01..2026-11-01 | 2026-12-01..2026-12-10"},
		{"2026-10-15", "2026-11-10", "2026-10-15..2026-11-10 | - | -"},
		{"2026-02-01", "2026-02-28", "- | 2026-02-01..2026-02-01 | -"},
		{"2024-02-01", "2024-02-28", "2024-02-01..2024-02-28 | - | -"}, // a leap February is not whole on the 28th
		{"2026-11-30", "2027-01-01", "2026-11-30..2026-11-30 | 2026-12-01..2026-12-01 | 2027-01-01..2027-01-01"},
	} {
		s := spanOf(tc.from, tc.to)
		if got := fmt.Sprintf("%s | %s | %s", show(s.head), show(s.months), show(s.tail)); got != tc.want {
			t.Errorf("%s..%s: got %s, want %s", tc.from, tc.to, got, tc.want)
		}
	}
}
