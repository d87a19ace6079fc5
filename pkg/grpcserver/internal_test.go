package grpcserver

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

func TestRequestCodecHandsDecodeErrorsToTheChecks(t *testing.T) {
	t.Parallel()
	good, err := proto.Marshal(&whistlev1.GetTicketRequest{Ticket: "HH-1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want string // substring of the InvalidArgument message, or "" to accept
	}{
		{name: "decodes", data: good},
		{name: "empty message decodes", data: nil},
		{name: "invalid UTF-8", data: []byte{0x0a, 0x01, 0xff}, want: "request does not decode as whistle.v1.GetTicketRequest: string field contains invalid UTF-8"},
		{name: "bad wire format", data: []byte{0x0a, 0x05, 'a'}, want: "request does not decode as whistle.v1.GetTicketRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := newRequestCodec()
			if err != nil {
				t.Fatal(err)
			}
			req := &whistlev1.GetTicketRequest{}
			if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(tt.data)}, req); err != nil {
				t.Fatalf("Unmarshal = %v: the codec must leave refusing to the interceptor", err)
			}
			err = checkRequest(c, req)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("checkRequest = %v", err)
				}
				return
			}
			if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), tt.want) {
				t.Fatalf("checkRequest = %v, want InvalidArgument containing %q", err, tt.want)
			}
			if strings.Contains(status.Convert(err).Message(), "\u00a0") {
				t.Errorf("message keeps protobuf's non-breaking spaces: %q", status.Convert(err).Message())
			}
			if req.GetTicket() != "" {
				t.Errorf("half-decoded request kept %q", req.GetTicket())
			}
			if err := checkRequest(c, req); err != nil {
				t.Fatalf("decode error not forgotten once reported: %v", err)
			}
			n := 0
			c.failed.Range(func(any, any) bool { n++; return true })
			if n != 0 {
				t.Fatalf("codec still holds %d decode errors", n)
			}
		})
	}
}

func TestLimiterForgetsIdleCallers(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		cfg       RateLimit
		idleAfter time.Duration // how long a caller stays tracked
	}{
		{name: "ten minutes when the bucket refills sooner", cfg: RateLimit{PerSecond: 5}, idleAfter: rateLimitIdle},
		{name: "until the bucket has refilled", cfg: RateLimit{PerSecond: 0.001, Burst: 1}, idleAfter: 1000 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, err := newLimiter(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			l.allow([]string{"a"}, start)
			l.allow([]string{"b"}, start.Add(time.Minute))
			l.allow([]string{"c"}, start.Add(tt.idleAfter-time.Nanosecond))
			if n := l.tracked(); n != 3 {
				t.Fatalf("tracking %d callers before anyone was idle for %s, want 3", n, tt.idleAfter)
			}
			l.allow([]string{"c"}, start.Add(tt.idleAfter)) // a idle for exactly idleAfter
			if n := l.tracked(); n != 2 {
				t.Fatalf("tracking %d callers after a was idle for %s, want 2 (b, c)", n, tt.idleAfter)
			}
			l.allow([]string{"c"}, start.Add(tt.idleAfter+time.Minute))
			if n := l.tracked(); n != 1 {
				t.Fatalf("tracking %d callers after b was idle too, want 1 (c)", n)
			}
		})
	}
}

func TestLimiterBoundsCallers(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	l, err := newLimiter(RateLimit{PerSecond: 1, Burst: 1})
	if err != nil {
		t.Fatal(err)
	}
	l.max = 3
	if _, ok := l.allow([]string{"first"}, now); !ok {
		t.Fatal("first call refused")
	}
	for i := range 3 {
		l.allow([]string{fmt.Sprint("other-", i)}, now)
	}
	if n := l.tracked(); n != 3 {
		t.Fatalf("tracking %d callers, want the bound, 3", n)
	}
	// "first" was the least recently seen, so it was forgotten: its next call
	// starts with a full bucket although it used its burst just now.
	if _, ok := l.allow([]string{"first"}, now); !ok {
		t.Fatal("forgotten caller refused: it was not the one forgotten")
	}
	if _, ok := l.allow([]string{"other-2"}, now); ok {
		t.Fatal("the most recent caller was forgotten instead of the least recent")
	}
}

func TestLimiterRetryDelay(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		perSecond float64
		after     time.Duration // between the first and the refused call
		want      time.Duration // 0: only check it is positive
	}{
		{name: "exact", perSecond: 4, after: 100 * time.Millisecond, want: 150 * time.Millisecond},
		{name: "rounded up to the millisecond", perSecond: 3, want: 334 * time.Millisecond},
		{name: "slow rate", perSecond: 1.0 / 64, after: 16 * time.Second, want: 48 * time.Second},
		{name: "practically never", perSecond: 1e-12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, err := newLimiter(RateLimit{PerSecond: tt.perSecond, Burst: 1})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := l.allow([]string{"a"}, start); !ok {
				t.Fatal("first call refused")
			}
			d, ok := l.allow([]string{"a"}, start.Add(tt.after))
			if ok || d <= 0 || (tt.want != 0 && d != tt.want) {
				t.Fatalf("allow = %s, %v; want refused with %s", d, ok, tt.want)
			}
			if tt.want == 0 {
				return
			}
			if _, ok := l.allow([]string{"a"}, start.Add(tt.after+d-time.Millisecond)); ok {
				t.Fatalf("passed a millisecond before the delay %s ended", d)
			}
			if _, ok := l.allow([]string{"a"}, start.Add(tt.after+d)); !ok {
				t.Fatalf("refused after waiting the delay %s", d)
			}
		})
	}
}

// A call naming several buckets passes only when each holds a token, and
// takes nothing from any when one is empty.
func TestLimiterTakesFromEveryBucketOrNone(t *testing.T) {
	t.Parallel()
	l, err := newLimiter(RateLimit{PerSecond: 1, Burst: 2})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for range 2 {
		if _, ok := l.allow([]string{"peer:a", "ticket:1"}, now); !ok {
			t.Fatal("refused within the burst")
		}
	}
	if _, ok := l.allow([]string{"peer:b", "ticket:1"}, now); ok {
		t.Fatal("ticket 1's bucket is empty, yet a call for it passed from another address")
	}
	if _, ok := l.allow([]string{"peer:b", "ticket:2"}, now); !ok {
		t.Fatal("a call for another ticket from another address was refused")
	}
	// The refused call took nothing from peer:b: one more call passes.
	if _, ok := l.allow([]string{"peer:b", "ticket:3"}, now); !ok {
		t.Fatal("a refused call took a token from a bucket it did not pass")
	}
	if _, ok := l.allow([]string{"peer:a", "ticket:4"}, now); ok {
		t.Fatal("peer:a's bucket is empty, yet a call from it passed")
	}
}
