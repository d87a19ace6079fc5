package grpcserver_test

import (
	"context"
	"math"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/clock"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
)

// retryDelay returns the RetryInfo delay of a ResourceExhausted refusal.
func retryDelay(t *testing.T, err error) time.Duration {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("status %s %q, want ResourceExhausted", st.Code(), st.Message())
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	t.Fatalf("refusal %q has no RetryInfo detail (details: %v)", st.Message(), st.Details())
	return 0
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	type step struct {
		caller  string
		read    bool          // GetTicket instead of Report
		advance time.Duration // moves the clock before the call
		wait    bool          // moves the clock by the last refusal's RetryInfo delay
		refused bool
	}
	tests := []struct {
		name  string
		limit grpcserver.RateLimit
		steps []step
	}{
		{name: "burst, then refusal, then a call after the retry delay",
			limit: grpcserver.RateLimit{PerSecond: 4, Burst: 2},
			steps: []step{{caller: "a"}, {caller: "a"}, {caller: "a", refused: true}, {caller: "a", wait: true},
				{caller: "a", refused: true}}},
		{name: "default burst is twice the rate",
			limit: grpcserver.RateLimit{PerSecond: 2},
			steps: []step{{caller: "a"}, {caller: "a"}, {caller: "a"}, {caller: "a"}, {caller: "a", refused: true}}},
		{name: "default burst is at least 1",
			limit: grpcserver.RateLimit{PerSecond: 0.1},
			steps: []step{{caller: "a"}, {caller: "a", refused: true}, {caller: "a", advance: 9 * time.Second, refused: true},
				{caller: "a", wait: true}}},
		{name: "callers are independent",
			limit: grpcserver.RateLimit{PerSecond: 1, Burst: 1},
			steps: []step{{caller: "a"}, {caller: "a", refused: true}, {caller: "b"}, {caller: "b", refused: true},
				{caller: "a", refused: true}, {caller: "c"}}},
		{name: "read-only calls are never limited",
			limit: grpcserver.RateLimit{PerSecond: 1, Burst: 1},
			steps: []step{{caller: "a"}, {caller: "a", refused: true}, {caller: "a", read: true}, {caller: "a", read: true},
				{caller: "a", read: true}, {caller: "a", refused: true}}},
		{name: "refused calls do not use up tokens",
			limit: grpcserver.RateLimit{PerSecond: 1, Burst: 1},
			steps: []step{{caller: "a"}, {caller: "a", refused: true}, {caller: "a", refused: true}, {caller: "a", refused: true},
				{caller: "a", advance: time.Second}}},
		{name: "off by default",
			steps: []step{{caller: "a"}, {caller: "a"}, {caller: "a"}, {caller: "a"}, {caller: "a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewFake(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
			limit := tt.limit
			limit.Keys, limit.Now = callerKey, clk.Now
			conn, svc := serveIntake(t, grpcserver.Options{RateLimit: limit})
			client := whistlev1.NewIntakeServiceClient(conn)
			var lastDelay time.Duration
			for i, s := range tt.steps {
				clk.Advance(s.advance)
				if s.wait {
					clk.Advance(lastDelay)
				}
				before := svc.calls.Load()
				var err error
				if s.read {
					_, err = client.GetTicket(asCaller(s.caller), &whistlev1.GetTicketRequest{Ticket: "HH-1"})
				} else {
					_, err = client.Report(asCaller(s.caller), validReport())
				}
				if !s.refused {
					if err != nil {
						t.Fatalf("step %d (%+v): %v", i, s, err)
					}
					continue
				}
				lastDelay = retryDelay(t, err)
				if lastDelay <= 0 || (limit.PerSecond > 0 && lastDelay > time.Duration(float64(time.Second)/limit.PerSecond)) {
					t.Fatalf("step %d: RetryInfo delay %s, want > 0 and at most one token's time", i, lastDelay)
				}
				msg := status.Convert(err).Message()
				if !strings.HasPrefix(msg, "too many requests: at most ") || !strings.Contains(msg, " per second for each caller; retry after ") {
					t.Fatalf("step %d: message %q", i, msg)
				}
				if svc.calls.Load() != before {
					t.Fatalf("step %d: refused call reached the service", i)
				}
			}
		})
	}
}

func TestRateLimitMessage(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	conn, _ := serveIntake(t, grpcserver.Options{RateLimit: grpcserver.RateLimit{PerSecond: 4, Burst: 1, Keys: callerKey, Now: clk.Now}})
	client := whistlev1.NewIntakeServiceClient(conn)
	if _, err := client.Report(asCaller("a"), validReport()); err != nil {
		t.Fatal(err)
	}
	clk.Advance(100 * time.Millisecond)
	_, err := client.Report(asCaller("a"), validReport())
	if d := retryDelay(t, err); d != 150*time.Millisecond {
		t.Fatalf("RetryInfo delay %s, want 150ms", d)
	}
	const want = "too many requests: at most 4 per second for each caller; retry after 150ms"
	if msg := status.Convert(err).Message(); msg != want {
		t.Fatalf("message %q, want %q", msg, want)
	}
}

func TestNewRefusesBadRateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		limit grpcserver.RateLimit
		want  string
	}{
		{name: "negative rate", limit: grpcserver.RateLimit{PerSecond: -1}, want: "RateLimit.PerSecond is -1"},
		{name: "NaN rate", limit: grpcserver.RateLimit{PerSecond: math.NaN()}, want: "RateLimit.PerSecond is NaN"},
		{name: "infinite rate", limit: grpcserver.RateLimit{PerSecond: math.Inf(1)}, want: "RateLimit.PerSecond is +Inf"},
		{name: "negative burst", limit: grpcserver.RateLimit{PerSecond: 1, Burst: -1}, want: "RateLimit.Burst is -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := grpcserver.New(grpcserver.Options{RateLimit: tt.limit})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestIsMutating(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method   string
		mutating bool
	}{
		{whistlev1.IntakeService_Report_FullMethodName, true},
		{whistlev1.ResponseService_Accept_FullMethodName, true},
		{whistlev1.DispatchService_ImportCatalog_FullMethodName, true},
		{whistlev1.MonitoringService_RebuildProjections_FullMethodName, true},
		{whistlev1.IntakeService_GetTicket_FullMethodName, false},
		{whistlev1.IntakeService_ListTickets_FullMethodName, false},
		{whistlev1.DispatchService_ExplainRouting_FullMethodName, false},
		{whistlev1.DispatchService_DiffCatalogs_FullMethodName, false},
		{whistlev1.MonitoringService_WatchEvents_FullMethodName, false},
		{"/grpc.health.v1.Health/Check", false},
		{"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", false},
		{"malformed", true},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			t.Parallel()
			if got := grpcserver.IsMutating(tt.method); got != tt.mutating {
				t.Fatalf("IsMutating(%q) = %v, want %v", tt.method, got, tt.mutating)
			}
		})
	}
}

func TestPeerKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ctx  context.Context
		want string
	}{
		{name: "no peer", ctx: context.Background(), want: ""},
		{name: "port dropped", ctx: peer.NewContext(context.Background(), &peer.Peer{Addr: addr("203.0.113.7:53211")}), want: "203.0.113.7"},
		{name: "IPv6", ctx: peer.NewContext(context.Background(), &peer.Peer{Addr: addr("[2001:db8::1]:443")}), want: "2001:db8::1"},
		{name: "no port", ctx: peer.NewContext(context.Background(), &peer.Peer{Addr: addr("bufconn")}), want: "bufconn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := grpcserver.PeerKey(tt.ctx); got != tt.want {
				t.Fatalf("PeerKey = %q, want %q", got, tt.want)
			}
		})
	}
}

// addr is a net.Addr with a fixed string.
type addr string

func (a addr) Network() string { return "tcp" }
func (a addr) String() string  { return string(a) }

// Residents all look alike (an evaluation code, no credentials): they are
// limited per ticket and per address, never in one bucket for the city.
func TestPrincipalKeys(t *testing.T) {
	t.Parallel()
	at := func(addr string) context.Context {
		return peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(addr), Port: 40000}})
	}
	resident := auth.Principal{Subject: "resident", Roles: []auth.Role{auth.RoleResident}, Via: "code"}
	officer := auth.Principal{Subject: "u-7", OrgUnit: "xc-hd-dj", Roles: []auth.Role{auth.RoleCommunityOfficer}, Via: "jwt"}
	evaluate := &whistlev1.EvaluateRequest{TicketId: "0193a1b2-0000-7000-8000-000000000001"}
	tests := []struct {
		name string
		ctx  context.Context
		req  any
		want []string
	}{
		{"a resident", auth.WithPrincipal(at("10.0.0.7"), resident), evaluate,
			[]string{"code-peer:10.0.0.7", "code-ticket:0193a1b2-0000-7000-8000-000000000001"}},
		{"a token's subject, wherever it calls from", auth.WithPrincipal(at("10.0.0.7"), officer), evaluate, []string{"principal:jwt:u-7"}},
		{"no principal", at("10.0.0.8"), evaluate, []string{"10.0.0.8"}},
	}
	for _, tt := range tests {
		if got := grpcserver.PrincipalKeys(tt.ctx, tt.req); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
