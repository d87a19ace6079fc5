package bus

import (
	"sync"
	"time"
)

// laters counts, per durable consumer and stream sequence, the deliveries of
// a message that ended in ErrLater and those that failed, so that waiting is
// not taken for failing. The counts live in memory only: failures are
// counted afresh after a restart (a failing message may be tried up to
// MaxDeliveries times more), and deliveries this process did not settle
// count only against the much larger MaxUnsettled — a message that waited
// across a restart is never dead-lettered for it.
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

// laterCount is a message's count of deliveries that ended in ErrLater (n)
// and of those that failed.
type laterCount struct {
	n, failed uint64
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

// fail counts one more delivery that failed.
func (l *laters) fail(k laterKey) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == nil {
		l.n = map[laterKey]laterCount{}
	}
	l.sweep(now)
	c := l.n[k]
	c.failed++
	c.seen = now
	l.n[k] = c
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
