package bus

import (
	"sync"
	"time"
)

// laters counts, per durable consumer and stream sequence, the deliveries of
// a message that ended in ErrLater, so that waiting is not taken for failing.
// The counts live in memory only: after a restart, the waits a message went
// through before count as failed deliveries, so one that had waited more than
// MaxDeliveries times is dead-lettered as never acknowledged.
type laters struct {
	// idle is how long an entry may go untouched before it is forgotten (its
	// message was settled by another instance, or its consumer was reset).
	idle  time.Duration
	mu    sync.Mutex
	n     map[laterKey]laterCount
	swept time.Time
}

type laterKey struct {
	durable string
	seq     uint64
}

// laterCount is a message's count of deliveries that ended in ErrLater.
type laterCount struct {
	n uint64
	// first and seen are when the first and the last of them ended.
	first, seen time.Time
}

// get returns the message's count; the zero laterCount if it never waited.
func (l *laters) get(k laterKey) laterCount {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[k]
}

// add counts one more delivery that ended in ErrLater and returns the count.
func (l *laters) add(k laterKey) uint64 {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == nil {
		l.n = map[laterKey]laterCount{}
	}
	l.sweep(now)
	c := l.n[k]
	if c.n == 0 {
		c.first = now
	}
	c.n++
	c.seen = now
	l.n[k] = c
	return c.n
}

// drop forgets the message, once it is acknowledged or dead-lettered.
func (l *laters) drop(k laterKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.n, k)
}

// sweep forgets, at most once per idle period, the entries idle for longer.
// The caller holds l.mu.
func (l *laters) sweep(now time.Time) {
	if now.Sub(l.swept) < l.idle {
		return
	}
	l.swept = now
	for k, c := range l.n {
		if now.Sub(c.seen) > l.idle {
			delete(l.n, k)
		}
	}
}
