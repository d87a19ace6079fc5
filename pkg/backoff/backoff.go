// Package backoff is Whistle's one retry delay: exponential, capped, with
// jitter, so that many clients failing at once do not all come back at once.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Delay returns the wait before retry n (n = 1 for the first): base doubled
// n-1 times, capped at max, then spread by ±20 % jitter. n below 1 is taken
// as 1; a base of 0 or less waits nothing.
func Delay(n int, base, max time.Duration) time.Duration {
	if base <= 0 {
		return 0
	}
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
