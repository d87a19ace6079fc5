package webhook_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/webhook"
)

func TestScheduleNext(t *testing.T) {
	t.Parallel()
	first := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	custom := webhook.Schedule{Base: time.Second, Max: time.Minute, GiveUpAfter: time.Hour}
	tests := []struct {
		s          webhook.Schedule
		attempt    int
		elapsed    time.Duration // now - first
		retryAfter time.Duration
		want       time.Duration // delay before jitter; exact if exact
		exact      bool
		giveUp     bool
	}{
		{webhook.Schedule{}, 1, 0, 0, 10 * time.Second, false, false},
		{webhook.Schedule{}, 2, time.Minute, 0, 20 * time.Second, false, false},
		{webhook.Schedule{}, 4, time.Hour, 0, 80 * time.Second, false, false},
		{webhook.Schedule{}, 20, 10 * time.Hour, 0, time.Hour, false, false},
		{webhook.Schedule{}, 1, 0, 7 * time.Second, 10 * time.Second, false, false}, // backoff is longer
		{webhook.Schedule{}, 1, 0, time.Minute, time.Minute, true, false},           // Retry-After is longer
		{webhook.Schedule{}, 3, 24*time.Hour - time.Second, 0, 40 * time.Second, false, false},
		{webhook.Schedule{}, 3, 24 * time.Hour, 0, 0, false, true},
		{webhook.Schedule{}, 3, 30 * time.Hour, time.Minute, 0, false, true},
		{custom, 1, 0, 0, time.Second, false, false},
		{custom, 10, 0, 0, time.Minute, false, false},
		{custom, 10, time.Hour, 0, 0, false, true},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			now := first.Add(tc.elapsed)
			for range 100 {
				next, giveUp := tc.s.Next(tc.attempt, first, now, tc.retryAfter)
				if giveUp != tc.giveUp {
					t.Fatalf("Next(%d, +%s) gives up: %v; want %v", tc.attempt, tc.elapsed, giveUp, tc.giveUp)
				}
				if giveUp {
					if !next.IsZero() {
						t.Fatalf("gave up with a next time %s", next)
					}
					return
				}
				d := next.Sub(now)
				lo, hi := time.Duration(float64(tc.want)*0.8), time.Duration(float64(tc.want)*1.2)
				if tc.exact {
					lo, hi = tc.want, tc.want
				}
				if d < lo || d > hi {
					t.Fatalf("Next(%d, +%s, %s) waits %s; want %s (±20 %% unless exact)", tc.attempt, tc.elapsed, tc.retryAfter, d, tc.want)
				}
			}
		})
	}
}
