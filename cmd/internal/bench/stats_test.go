package bench

import (
	"errors"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestPercentileIsTheNearestRank(t *testing.T) {
	t.Parallel()
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"none", nil, 50, 0},
		{"one sample is every percentile", ms(7), 99, 7 * time.Millisecond},
		{"median of four is the second", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p95 of four is the last", ms(1, 2, 3, 4), 95, 4 * time.Millisecond},
		{"p50 of 1..100", ms(hundred...), 50, 50 * time.Millisecond},
		{"p95 of 1..100", ms(hundred...), 95, 95 * time.Millisecond},
		{"p99 of 1..100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p100 is the max", ms(hundred...), 100, 100 * time.Millisecond},
		{"a tiny p is the min", ms(3, 5, 9), 0.1, 3 * time.Millisecond},
		{"negative samples (clock skew) sort first", ms(-2, 1, 4), 50, time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Percentile(tc.sorted, tc.p); got != tc.want {
				t.Fatalf("Percentile(%v, %g) = %v, want %v", tc.sorted, tc.p, got, tc.want)
			}
		})
	}
}

func TestSummarizeSortsAndOrdersThePercentiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []time.Duration
		want Summary
	}{
		{"empty", nil, Summary{}},
		{"unsorted", []time.Duration{30, 10, 20, 40}, Summary{Count: 4, P50: 20, P95: 40, P99: 40, Max: 40, Mean: 25}},
		{"equal samples", []time.Duration{5, 5, 5}, Summary{Count: 3, P50: 5, P95: 5, P99: 5, Max: 5, Mean: 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Summarize(tc.in)
			if got != tc.want {
				t.Fatalf("Summarize = %+v, want %+v", got, tc.want)
			}
			if !(got.P50 <= got.P95 && got.P95 <= got.P99 && got.P99 <= got.Max) {
				t.Fatalf("percentiles out of order: %+v", got)
			}
		})
	}
}

func TestSamplesAreSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	var s Samples
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 1000 {
				s.Add(time.Duration(g*1000 + i))
			}
		}()
	}
	for range 8 {
		<-done
	}
	sum := s.Summary()
	if sum.Count != 8000 || sum.Max != 7999 || sum.P50 != 3999 {
		t.Fatalf("summary %+v, want 8000 samples 0..7999", sum)
	}
}

func TestErrorsCountByRPCAndCode(t *testing.T) {
	t.Parallel()
	var e Errors
	e.Add("Report", nil)
	e.Add("Report", status.Error(codes.Unavailable, "down"))
	e.Add("Report", status.Error(codes.Unavailable, "down"))
	e.Add("Accept", status.Error(codes.FailedPrecondition, "not dispatched"))
	e.Add("Accept", errors.New("plain"))
	want := []ErrorRow{{"Accept", "FailedPrecondition", 1}, {"Accept", "Unknown", 1}, {"Report", "Unavailable", 2}}
	got := e.Rows()
	if len(got) != len(want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("rows %v, want %v", got, want)
		}
	}
	if e.Total() != 4 {
		t.Fatalf("total %d, want 4", e.Total())
	}
}

func TestFloorPlanSpreadsTheWorkEvenlyOverTheHops(t *testing.T) {
	t.Parallel()
	tests := []struct {
		work        FloorWork
		pre, fanout []int
	}{
		{FloorWork{Commits: 7, Publishes: 3, Consumes: 5}, []int{0, 1, 1}, []int{1, 2, 2}},
		{FloorWork{Commits: 24, Publishes: 7, Consumes: 18}, []int{0, 1, 1, 1, 1, 1, 1}, []int{2, 3, 2, 3, 2, 3, 3}},
		{FloorWork{Commits: 2, Publishes: 2, Consumes: 4}, []int{0, 0}, []int{2, 2}}, // fewer commits than consumes: each consume still commits
		{FloorWork{Commits: 1, Publishes: 1, Consumes: 0}, []int{1}, []int{0}},
	}
	for _, tc := range tests {
		pre, fanout := tc.work.plan()
		if !slices.Equal(pre, tc.pre) || !slices.Equal(fanout, tc.fanout) {
			t.Errorf("%+v: pre %v fanout %v, want %v %v", tc.work, pre, fanout, tc.pre, tc.fanout)
		}
	}
}
