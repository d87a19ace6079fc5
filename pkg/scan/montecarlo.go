package scan

import (
	"math"
	"math/rand/v2"
	"slices"
)

// model holds what stays the same across the replicas. Permuting the days
// among the cases keeps every location's count C_z and every day's count
// C_d, so each cylinder's expectation μ stays too; only its observed count
// c changes. A replica therefore draws which cases fall on the days of the
// longest window, counts them per location and day offset, and sums those
// counts up zone by zone.
//
// With T the number of cases, a cylinder's LLR is
//
//	c·ln(c/μ) + (T−c)·ln((T−c)/(T−μ))
//	  = tab[c] − c·a − b,  where
//	tab[c] = c·ln c + (T−c)·ln(1 − c/T),
//	a      = ln μ − ln(1 − μ/T),
//	b      = T·ln(1 − μ/T),
//
// so the inner loop takes no logarithm. The logarithms of 1 − x go through
// math.Log1p, which keeps the rounding error of the second term's small
// difference to a few ulps of c, not of T·ln T.
type model struct {
	z        *zones
	nLocs    int
	windows  int   // window k covers the last k+1 days
	total    int64 // T, all cases
	minCases int32
	cw       []int64   // cw[k]: the cases in window k, anywhere
	cz       []int64   // cz[zi]: the cases in zone zi, any day
	a, b     []float64 // per cylinder zi*windows + k, as above
	tab      []float64 // tab[c], as above, for every c a cylinder can hold
	caseLoc  []int32   // every case's location
	slotOff  []int32   // the day offsets (from the last day) of the cases in the longest window, in case order
	slotLoc  []int32   // those cases' locations
}

func newModel(z *zones, nLocs int, cases []Case, days int, cfg config) *model {
	w := cfg.windows
	m := &model{
		z: z, nLocs: nLocs, windows: w, total: int64(len(cases)), minCases: int32(cfg.minCases),
		cw: make([]int64, w), cz: make([]int64, len(z.nb)), caseLoc: make([]int32, len(cases)),
	}
	perLoc := make([]int64, nLocs)
	for i, c := range cases {
		perLoc[c.Location]++
		m.caseLoc[i] = int32(c.Location)
		if off := days - 1 - c.Day; off < w {
			m.cw[off]++
			m.slotOff = append(m.slotOff, int32(off))
			m.slotLoc = append(m.slotLoc, int32(c.Location))
		}
	}
	for k := 1; k < w; k++ {
		m.cw[k] += m.cw[k-1]
	}
	for i := range nLocs {
		var sum int64
		for zi := z.start[i]; zi < z.start[i+1]; zi++ {
			sum += perLoc[z.nb[zi]]
			m.cz[zi] = sum
		}
	}
	m.cylinders()
	return m
}

// cylinders fills a, b and tab.
func (m *model) cylinders() {
	w, t := m.windows, float64(m.total)
	m.a, m.b = make([]float64, len(m.cz)*w), make([]float64, len(m.cz)*w)
	var maxC int64
	for zi, cz := range m.cz {
		maxC = max(maxC, min(cz, m.cw[w-1]))
		for k, cw := range m.cw {
			if cz == 0 || cw == 0 {
				continue // μ = 0, and so c = 0: never counts
			}
			mu := float64(cz) * float64(cw) / t
			h := math.Log1p(-mu / t)
			m.a[zi*w+k] = math.Log(mu) - h
			m.b[zi*w+k] = t * h
		}
	}
	m.tab = make([]float64, maxC+1)
	for c := int64(1); c <= maxC; c++ {
		fc := float64(c)
		m.tab[c] = fc * math.Log(fc)
		if c < m.total {
			m.tab[c] += (t - fc) * math.Log1p(-fc/t)
		}
	}
}

// expected is the expectation μ of cylinder (zi, k).
func (m *model) expected(zi, k int) float64 {
	return float64(m.cz[zi]) * float64(m.cw[k]) / float64(m.total)
}

// score returns the LLR of window k of zone zi, cylinder cyl, which holds
// cz cases over the study and c in the window, and whether it counts: c ≥
// MinCases and c > μ (compared exactly, as c·T > C_z·C_w).
func (m *model) score(cz int64, c int32, k, cyl int) (float64, bool) {
	if c < m.minCases || int64(c)*m.total <= cz*m.cw[k] {
		return 0, false
	}
	return m.tab[c] - float64(float64(c)*m.a[cyl]) - m.b[cyl], true // no fused multiply-add: as in maxLLR
}

// maxLLR returns the largest LLR of a cylinder that counts, or 0, given
// n[l*windows+k], the cases at location l in window k. acc is scratch of
// length windows. It is score unrolled over a zone's windows, the hot loop.
func (m *model) maxLLR(n, acc []int32) float64 {
	w, z := m.windows, m.z
	cw, tab, minCases, total := m.cw[:w], m.tab, m.minCases, m.total
	acc = acc[:w]
	best := 0.0
	for i := range m.nLocs {
		clear(acc)
		for zi := int(z.start[i]); zi < int(z.start[i+1]); zi++ {
			row, cz := n[int(z.nb[zi])*w:][:w], m.cz[zi]
			a, b := m.a[zi*w:][:w], m.b[zi*w:][:w]
			for k, v := range row {
				c := acc[k] + v
				acc[k] = c
				if c < minCases || int64(c)*total <= cz*cw[k] {
					continue
				}
				if llr := tab[c] - float64(float64(c)*a[k]) - b[k]; llr > best {
					best = llr
				}
			}
		}
	}
	return best
}

// observed returns every zone's best cylinder in the data, of those that
// count (the shortest window among equals).
func (m *model) observed() []candidate {
	w, z := m.windows, m.z
	n := make([]int32, m.nLocs*w)
	for j, off := range m.slotOff {
		n[int(m.slotLoc[j])*w+int(off)]++
	}
	cumulate(n, w)
	acc := make([]int32, w)
	var out []candidate
	for i := range m.nLocs {
		clear(acc)
		for zi := int(z.start[i]); zi < int(z.start[i+1]); zi++ {
			best := candidate{cyl: -1}
			for k, v := range n[int(z.nb[zi])*w:][:w] {
				acc[k] += v
				if llr, ok := m.score(m.cz[zi], acc[k], k, zi*w+k); ok && (best.cyl < 0 || llr > best.llr) {
					best = candidate{llr, zi*w + k}
				}
			}
			if best.cyl >= 0 {
				out = append(out, best)
			}
		}
	}
	return out
}

// cumulate turns per-day counts n[l*w+off] into counts over windows.
func cumulate(n []int32, w int) {
	for l := 0; l < len(n); l += w {
		for k := l + 1; k < l+w; k++ {
			n[k] += n[k-1]
		}
	}
}

// replicas runs the Monte Carlo replicas and returns their maxima,
// ascending. Replica r draws from its own generator, seeded by cfg.seed and
// r, so no result depends on which goroutine ran it.
func (m *model) replicas(cfg config) []float64 {
	null := make([]float64, cfg.replicas)
	if m.total == 0 {
		return null
	}
	parallel(cfg.workers, cfg.replicas, func() func(int) {
		src := rand.NewPCG(0, 0)
		rng := rand.New(src)
		locs := slices.Clone(m.caseLoc)
		swaps := make([]int32, len(m.slotOff))
		n := make([]int32, m.nLocs*m.windows)
		acc := make([]int32, m.windows)
		return func(r int) {
			src.Seed(cfg.seed, splitmix(uint64(r)))
			m.permute(rng, locs, swaps, n)
			null[r] = m.maxLLR(n, acc)
		}
	})
	slices.Sort(null)
	return null
}

// permute fills n as observed does, but for a random permutation of the
// days among the cases. Only the days of the longest window matter, so it
// draws just the cases that get them: a partial Fisher–Yates shuffle of
// locs (the cases' locations) gives slot j, the j-th of those days, the
// case it moves to locs[j], uniformly without replacement. The swaps are
// then undone, so every replica starts from the same order.
func (m *model) permute(rng *rand.Rand, locs, swaps, n []int32) {
	clear(n)
	w, size := m.windows, len(locs)
	for j, off := range m.slotOff {
		r := j + rng.IntN(size-j)
		locs[j], locs[r] = locs[r], locs[j]
		swaps[j] = int32(r)
		n[int(locs[j])*w+int(off)]++
	}
	for j := len(swaps) - 1; j >= 0; j-- {
		r := swaps[j]
		locs[j], locs[r] = locs[r], locs[j]
	}
	cumulate(n, w)
}

// splitmix is SplitMix64's finaliser, to spread replica numbers over the
// generator's state.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
