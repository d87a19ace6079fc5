package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func sameHash(want [32]byte, value string) bool {
	got := sha256.Sum256([]byte(value))
	return subtle.ConstantTimeCompare(want[:], got[:]) == 1
}

// clip bounds a text from outside for a message.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// store keeps values for a while under random keys, each taken at most
// once, at most max at a time.
type store[T any] struct {
	mu  sync.Mutex
	max int
	ttl time.Duration
	now func() time.Time
	m   map[string]stored[T]
}

type stored[T any] struct {
	v       T
	expires time.Time
}

func newStore[T any](max int, ttl time.Duration, now func() time.Time) *store[T] {
	return &store[T]{max: max, ttl: ttl, now: now, m: map[string]stored[T]{}}
}

// put keeps v under key; false when the store is full of live entries.
func (s *store[T]) put(key string, v T) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.m) >= s.max {
		for k, e := range s.m {
			if !now.Before(e.expires) {
				delete(s.m, k)
			}
		}
		if len(s.m) >= s.max {
			return false
		}
	}
	s.m[key] = stored[T]{v: v, expires: now.Add(s.ttl)}
	return true
}

// take removes and returns the value under key, if it is there and alive.
func (s *store[T]) take(key string) (T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	delete(s.m, key)
	if !ok || !s.now().Before(e.expires) {
		var zero T
		return zero, false
	}
	return e.v, true
}
