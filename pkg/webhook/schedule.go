package webhook

import (
	"time"

	"github.com/whistle-civic/whistle/pkg/backoff"
)

// Schedule's defaults.
const (
	DefaultBase        = 10 * time.Second
	DefaultMax         = time.Hour
	DefaultGiveUpAfter = 24 * time.Hour
)

// Schedule spaces out the retries of one delivery with backoff.Delay, and
// says when to give up (the caller then dead-letters the delivery). Zero
// fields take their defaults.
type Schedule struct {
	// Base is the wait before the first retry. Default DefaultBase (10 s).
	Base time.Duration
	// Max caps the doubled wait (before backoff's ±20 % jitter). Default
	// DefaultMax (1 h).
	Max time.Duration
	// GiveUpAfter is how long after the first try a delivery is given up.
	// Default DefaultGiveUpAfter (24 h).
	GiveUpAfter time.Duration
}

// Next returns when to try again after attempt (1 for the first try) failed
// at now: now plus backoff.Delay(attempt, Base, Max), or plus retryAfter (a
// receiver's Retry-After) when that is longer. It returns giveUp (and a zero
// time) instead once now - firstTry ≥ GiveUpAfter.
func (s Schedule) Next(attempt int, firstTry, now time.Time, retryAfter time.Duration) (next time.Time, giveUp bool) {
	s = s.withDefaults()
	if now.Sub(firstTry) >= s.GiveUpAfter {
		return time.Time{}, true
	}
	return now.Add(max(backoff.Delay(attempt, s.Base, s.Max), retryAfter)), false
}

func (s Schedule) withDefaults() Schedule {
	if s.Base <= 0 {
		s.Base = DefaultBase
	}
	if s.Max <= 0 {
		s.Max = DefaultMax
	}
	if s.GiveUpAfter <= 0 {
		s.GiveUpAfter = DefaultGiveUpAfter
	}
	return s
}
