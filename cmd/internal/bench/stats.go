package bench

import (
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Samples collects durations. It keeps every sample (exact percentiles),
// which suits runs of up to a few million samples. Safe for concurrent use.
type Samples struct {
	mu sync.Mutex
	d  []time.Duration
}

// Add records one sample.
func (s *Samples) Add(d time.Duration) {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
}

// Summary summarises the samples so far.
func (s *Samples) Summary() Summary {
	s.mu.Lock()
	d := slices.Clone(s.d)
	s.mu.Unlock()
	return Summarize(d)
}

// Summary is a latency distribution: how many samples, and the
// nearest-rank percentiles.
type Summary struct {
	Count              int
	P50, P95, P99, Max time.Duration
	Mean               time.Duration
}

// Summarize sorts d in place and returns its summary; the zero Summary
// when d is empty.
func Summarize(d []time.Duration) Summary {
	if len(d) == 0 {
		return Summary{}
	}
	slices.Sort(d)
	var sum float64
	for _, v := range d {
		sum += float64(v)
	}
	return Summary{Count: len(d), P50: Percentile(d, 50), P95: Percentile(d, 95), P99: Percentile(d, 99),
		Max: d[len(d)-1], Mean: time.Duration(sum / float64(len(d)))}
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of sorted samples by
// the nearest-rank method: the smallest sample that at least p % of the
// samples are no greater than. It returns 0 for no samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Errors counts failed calls by RPC and gRPC code. Safe for concurrent use.
type Errors struct {
	mu sync.Mutex
	m  map[string]map[string]int
}

// Add counts err (nil counts nothing) against rpc.
func (e *Errors) Add(rpc string, err error) {
	if err == nil {
		return
	}
	code := status.Code(err)
	if code == codes.Unknown {
		code = status.FromContextError(err).Code() // a deadline or cancellation outside gRPC
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]map[string]int{}
	}
	if e.m[rpc] == nil {
		e.m[rpc] = map[string]int{}
	}
	e.m[rpc][code.String()]++
}

// Total is how many errors were counted.
func (e *Errors) Total() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, byCode := range e.m {
		for _, c := range byCode {
			n += c
		}
	}
	return n
}

// Rows returns the counts as rows sorted by RPC, then code.
func (e *Errors) Rows() []ErrorRow {
	e.mu.Lock()
	defer e.mu.Unlock()
	var rows []ErrorRow
	for rpc, byCode := range e.m {
		for code, n := range byCode {
			rows = append(rows, ErrorRow{RPC: rpc, Code: code, Count: n})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].RPC != rows[j].RPC {
			return rows[i].RPC < rows[j].RPC
		}
		return rows[i].Code < rows[j].Code
	})
	return rows
}

// ErrorRow is how often one RPC failed with one code.
type ErrorRow struct {
	RPC   string `json:"rpc"`
	Code  string `json:"code"`
	Count int    `json:"count"`
}
