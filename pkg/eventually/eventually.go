// Package eventually lets a test wait for what asynchronous work (a consumer,
// a relay, a timer) makes true: it polls the condition, and never sleeps for
// a fixed time in the hope that the work is done.
package eventually

import (
	"testing"
	"time"
)

// Timeout is how long True waits before it fails the test: long enough for a
// loaded CI machine, short enough to report a stuck test.
const Timeout = 30 * time.Second

// True polls cond every 10 ms until it holds, and fails the test, naming
// what it waited for, if it does not hold within Timeout.
func True(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	Seen(tb, what, func() (bool, string) { return cond(), "" })
}

// Seen is True for a condition that also says what it saw: on a timeout the
// failure reports the last state seen, so that a stuck test tells how far
// the work got.
func Seen(tb testing.TB, what string, cond func() (ok bool, seen string)) {
	tb.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			if seen == "" {
				tb.Fatalf("timed out after %s waiting for %s", Timeout, what)
			}
			tb.Fatalf("timed out after %s waiting for %s; last seen: %s", Timeout, what, seen)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
