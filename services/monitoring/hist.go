package monitoring

import (
	"math"
	"time"
)

// Stage times are kept as histograms whose buckets grow by a factor of 2^(1/4)
// (about 19 %): bucket 0 holds durations under a minute, bucket i ≥ 1 those
// from 60 s·2^((i-1)/4) to 60 s·2^(i/4). A p90 read from them is the upper
// bound of the bucket holding the 90th percentile: at most 19 % above the
// true value, never below it.
const (
	bucketsPerDoubling = 4
	maxBucket          = 120 // beyond 60 s·2^30: ~2,000 years
)

// bucketOf returns the histogram bucket of a duration.
func bucketOf(d time.Duration) int {
	if d < time.Minute {
		return 0
	}
	b := int(math.Floor(math.Log2(d.Minutes())*bucketsPerDoubling)) + 1
	return min(b, maxBucket)
}

// bucketTop returns the upper bound of a bucket.
func bucketTop(b int) time.Duration {
	if b == 0 {
		return time.Minute
	}
	return time.Duration(float64(time.Minute) * math.Pow(2, float64(b)/bucketsPerDoubling))
}

// percentile returns the upper bound of the bucket holding the p-th
// percentile (0 < p ≤ 1) of the counts by bucket.
func percentile(counts map[int]int64, p float64) time.Duration {
	var total int64
	top := 0
	for b, n := range counts {
		total += n
		top = max(top, b)
	}
	if total == 0 {
		return 0
	}
	want := int64(math.Ceil(p * float64(total)))
	var seen int64
	for b := 0; b <= top; b++ {
		if seen += counts[b]; seen >= want {
			return bucketTop(b)
		}
	}
	return bucketTop(top)
}
