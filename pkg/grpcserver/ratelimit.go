package grpcserver

import (
	"container/list"
	"context"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// RateLimit limits how often each caller may make mutating calls, with a
// token bucket per caller (golang.org/x/time/rate). A call over the limit is
// refused with codes.ResourceExhausted, "too many requests: at most N per
// second for each caller; retry after D", and a google.rpc.RetryInfo detail
// carrying D: how long until the caller's bucket holds a token again, rounded
// up to whole milliseconds. Refused calls take no token. The zero value is
// off.
//
// Only unary calls are limited; streaming calls (the Watch… methods, the
// health watch, reflection) never are. Callers that have made no call for
// 10 minutes (longer when refilling their burst takes longer) are forgotten,
// which loses nothing: their bucket is full again by then. At most 100,000
// callers are tracked; past that the least recently seen one is forgotten, and
// its next call starts with a full burst.
type RateLimit struct {
	// PerSecond is how many mutating calls each caller may make per second,
	// on average. Default 0: no limit. New fails when it is negative, NaN or
	// infinite.
	PerSecond float64
	// Burst is how many mutating calls a caller may make at once, after a
	// quiet spell. Default (0): twice PerSecond, at least 1. New fails when it
	// is negative.
	Burst int
	// Keys names the buckets a call takes a token from; calls naming the
	// same key share a limit, and a call passes only when every one of its
	// buckets holds a token (it then takes one from each). Default: PeerKey,
	// the caller's network address without its port; with authentication,
	// PrincipalKeys (grpcserver.New sets it), so that callers behind one
	// address (a proxy, a NAT) do not share a limit and residents, who have
	// no credentials, are limited per ticket and per address.
	Keys func(ctx context.Context, req any) []string
	// Mutating says which methods, by full name ("/whistle.v1.IntakeService/Report"),
	// are limited. Default: IsMutating.
	Mutating func(fullMethod string) bool
	// Now is the limiter's clock. Default: time.Now. Tests set a fake clock
	// so that they can wait out a RetryInfo delay without sleeping.
	Now func() time.Time
}

// The limiter's bounds, documented on RateLimit.
const (
	rateLimitIdle       = 10 * time.Minute
	rateLimitMaxCallers = 100_000
)

// readOnlyPrefixes start the names of methods that change nothing.
var readOnlyPrefixes = []string{"Get", "List", "Explain", "Diff", "Watch", "Find"}

// IsMutating is RateLimit's default Mutating: every method whose name does
// not start with Get, List, Explain, Diff, Watch or Find, except those of the gRPC
// health and reflection services, which probes and tools call and which
// change nothing.
func IsMutating(fullMethod string) bool {
	service, method, ok := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	if !ok {
		return true
	}
	if service == "grpc.health.v1.Health" || strings.HasPrefix(service, "grpc.reflection.") {
		return false
	}
	for _, p := range readOnlyPrefixes {
		if strings.HasPrefix(method, p) {
			return false
		}
	}
	return true
}

// PeerKey is RateLimit's default Key: the caller's network address without
// its port (so that opening a new connection does not reset the limit), the
// whole address when it has no port, or "" when the call has no peer.
func PeerKey(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	addr := p.Addr.String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// limiter holds one token bucket per caller, most recently seen first.
type limiter struct {
	cfg   RateLimit
	limit rate.Limit
	idle  time.Duration
	max   int

	mu      sync.Mutex
	callers map[string]*list.Element // of *caller
	recent  *list.List               // of *caller, most recently seen first
}

type caller struct {
	key  string
	lim  *rate.Limiter
	last time.Time
}

// newLimiter checks cfg and fills in its defaults; it returns nil when the
// limit is off.
func newLimiter(cfg RateLimit) (*limiter, error) {
	if math.IsNaN(cfg.PerSecond) || math.IsInf(cfg.PerSecond, 0) || cfg.PerSecond < 0 {
		return nil, fmt.Errorf("RateLimit.PerSecond is %v: set 0 (no limit) or a positive number of calls per second", cfg.PerSecond)
	}
	if cfg.Burst < 0 {
		return nil, fmt.Errorf("RateLimit.Burst is %d: set 0 (twice PerSecond) or a positive number of calls", cfg.Burst)
	}
	if cfg.PerSecond == 0 {
		return nil, nil
	}
	if cfg.Burst == 0 {
		cfg.Burst = max(1, int(math.Min(2*cfg.PerSecond, math.MaxInt32)))
	}
	if cfg.Keys == nil {
		cfg.Keys = func(ctx context.Context, _ any) []string { return []string{PeerKey(ctx)} }
	}
	if cfg.Mutating == nil {
		cfg.Mutating = IsMutating
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	// A caller idle for as long as its bucket takes to refill is
	// indistinguishable from a new one, so forgetting it then loses nothing.
	refill := time.Duration(math.MaxInt64) // for buckets that, in practice, never refill
	if secs := float64(cfg.Burst) / cfg.PerSecond; secs < float64(math.MaxInt64/int64(time.Second)) {
		refill = time.Duration(secs * float64(time.Second))
	}
	return &limiter{cfg: cfg, limit: rate.Limit(cfg.PerSecond), idle: max(rateLimitIdle, refill),
		max: rateLimitMaxCallers, callers: map[string]*list.Element{}, recent: list.New()}, nil
}

// allow takes a token from every one of keys' buckets at now; when one has
// none, it takes nothing and returns how long until all have one, rounded up
// to whole milliseconds.
func (l *limiter) allow(keys []string, now time.Time) (retryAfter time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetIdle(now)
	var taken []*rate.Reservation
	for _, key := range keys {
		d, r := l.reserve(key, now)
		if r == nil {
			retryAfter = max(retryAfter, d)
			continue
		}
		taken = append(taken, r)
	}
	if retryAfter == 0 {
		return 0, true
	}
	for _, r := range taken {
		r.CancelAt(now)
	}
	return retryAfter, false
}

// reserve takes a token from key's bucket at now and returns the
// reservation; when there is none, it takes nothing and returns how long
// until there is one. l.mu must be held.
func (l *limiter) reserve(key string, now time.Time) (time.Duration, *rate.Reservation) {
	var c *caller
	if e, found := l.callers[key]; found {
		c = e.Value.(*caller)
		l.recent.MoveToFront(e)
	} else {
		c = &caller{key: key, lim: rate.NewLimiter(l.limit, l.cfg.Burst)}
		l.callers[key] = l.recent.PushFront(c)
		if l.recent.Len() > l.max {
			l.forget(l.recent.Back())
		}
	}
	c.last = now
	r := c.lim.ReserveN(now, 1)
	if !r.OK() { // cannot happen: the burst is at least 1
		return rate.InfDuration, nil
	}
	d := r.DelayFrom(now)
	if d <= 0 {
		return 0, r
	}
	r.CancelAt(now)
	// The limiter's float arithmetic can report a delay a hair short; round
	// up to the first whole millisecond at which the bucket really has a
	// token, so that a caller that waits the delay gets through.
	if d >= rate.InfDuration/2 { // a rate so low that the bucket never refills in practice
		return d, nil
	}
	d = (d + time.Millisecond - 1).Truncate(time.Millisecond)
	for i := 0; i < 10 && c.lim.TokensAt(now.Add(d)) < 1; i++ {
		d += time.Millisecond
	}
	return d, nil
}

// forgetIdle drops the callers not seen for l.idle, oldest first.
func (l *limiter) forgetIdle(now time.Time) {
	for e := l.recent.Back(); e != nil && now.Sub(e.Value.(*caller).last) >= l.idle; e = l.recent.Back() {
		l.forget(e)
	}
}

func (l *limiter) forget(e *list.Element) {
	delete(l.callers, e.Value.(*caller).key)
	l.recent.Remove(e)
}

// tracked returns how many callers the limiter holds a bucket for.
func (l *limiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.callers)
}

// refusal is the status of a call over the limit.
func (l *limiter) refusal(retryAfter time.Duration) error {
	st := status.New(codes.ResourceExhausted, fmt.Sprintf(
		"too many requests: at most %s per second for each caller; retry after %s",
		strconv.FormatFloat(l.cfg.PerSecond, 'g', -1, 64), retryAfter))
	if detailed, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(retryAfter)}); err == nil {
		st = detailed
	}
	return st.Err()
}

// unary refuses mutating unary calls over their caller's limit.
func (l *limiter) unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if l.cfg.Mutating(info.FullMethod) {
			if retryAfter, ok := l.allow(l.cfg.Keys(ctx, req), l.cfg.Now()); !ok {
				return nil, l.refusal(retryAfter)
			}
		}
		return h(ctx, req)
	}
}
