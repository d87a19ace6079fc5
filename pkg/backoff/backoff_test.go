package backoff_test

import (
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/backoff"
)

func TestDelayDoublesUpToItsCapWithinTheJitter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n         int
		base, max time.Duration
		want      time.Duration // before jitter
	}{
		{0, 100 * time.Millisecond, time.Second, 100 * time.Millisecond},
		{1, 100 * time.Millisecond, time.Second, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, time.Second, 200 * time.Millisecond},
		{4, 100 * time.Millisecond, time.Second, 800 * time.Millisecond},
		{5, 100 * time.Millisecond, time.Second, time.Second},
		{1000, 500 * time.Millisecond, time.Minute, time.Minute},
		{3, 0, time.Second, 0},
	} {
		for range 100 {
			got := backoff.Delay(tc.n, tc.base, tc.max)
			if lo, hi := time.Duration(float64(tc.want)*0.8), time.Duration(float64(tc.want)*1.2); got < lo || got > hi {
				t.Fatalf("Delay(%d, %s, %s) = %s; want %s ±20 %%", tc.n, tc.base, tc.max, got, tc.want)
			}
		}
	}
}
