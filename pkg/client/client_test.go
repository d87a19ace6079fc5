package client_test

import (
	"context"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/client"
	"github.com/whistle-civic/whistle/pkg/eventually"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// flakyIntake answers Unavailable a number of times, then the outcome.
type flakyIntake struct {
	whistlev1.UnimplementedIntakeServiceServer
	mu       sync.Mutex
	failures int
	outcome  error
	keys     []string
	tokens   []string
}

func (f *flakyIntake) Report(ctx context.Context, req *whistlev1.ReportRequest) (*whistlev1.ReportResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	md, _ := metadata.FromIncomingContext(ctx)
	f.keys, f.tokens = append(f.keys, req.GetIdempotencyKey()), append(f.tokens, md.Get("authorization")...)
	if f.failures > 0 {
		f.failures--
		return nil, status.Error(codes.Unavailable, "database restarting")
	}
	if f.outcome != nil {
		return nil, f.outcome
	}
	return &whistlev1.ReportResponse{Ticket: &whistlev1.Ticket{Id: "t", IdempotencyKey: req.GetIdempotencyKey()}, Created: true}, nil
}

func stubClient(t *testing.T, srv *flakyIntake, opts ...client.Option) *client.Client {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	g := grpc.NewServer()
	whistlev1.RegisterIntakeServiceServer(g, srv)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	opts = append(opts, client.WithDialOptions(grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return lis.DialContext(ctx)
	})))
	c, err := client.Dial(context.Background(), "passthrough:///stub", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRetriesUnavailableWithTheSameKey(t *testing.T) {
	t.Parallel()
	srv := &flakyIntake{failures: 3}
	c := stubClient(t, srv, client.WithRetry(5, time.Millisecond), client.WithToken("secret-token"))
	tk, created, err := c.Report(context.Background(), &whistlev1.ReportRequest{Category: "noise"})
	if err != nil || !created || tk.GetId() != "t" {
		t.Fatalf("Report = %v, %v, %v", tk, created, err)
	}
	if len(srv.keys) != 4 || srv.keys[0] == "" {
		t.Fatalf("%d attempts with keys %v; want 4 with one generated key", len(srv.keys), srv.keys)
	}
	for _, k := range srv.keys {
		if k != srv.keys[0] {
			t.Fatalf("retries changed the idempotency key: %v", srv.keys)
		}
	}
	for _, tok := range srv.tokens {
		if tok != "Bearer secret-token" {
			t.Fatalf("authorization %q", tok)
		}
	}
}

func TestDoesNotRetryOtherFailures(t *testing.T) {
	t.Parallel()
	srv := &flakyIntake{outcome: status.Error(codes.InvalidArgument, "category: bad")}
	c := stubClient(t, srv, client.WithRetry(5, time.Millisecond))
	_, _, err := c.Report(context.Background(), &whistlev1.ReportRequest{})
	if status.Code(err) != codes.InvalidArgument || len(srv.keys) != 1 {
		t.Fatalf("err %v after %d attempts; want InvalidArgument after 1", err, len(srv.keys))
	}
	srv = &flakyIntake{failures: 100}
	c = stubClient(t, srv, client.WithRetry(2, time.Millisecond))
	if _, _, err := c.Report(context.Background(), &whistlev1.ReportRequest{}); status.Code(err) != codes.Unavailable || len(srv.keys) != 3 {
		t.Fatalf("err %v after %d attempts; want Unavailable after 3", err, len(srv.keys))
	}
}

// as dials the dev server with a token minted for a principal, with the
// signing key `whistle dev` made in its data folder.
func as(t *testing.T, role auth.Role, orgUnit string, opts ...client.Option) *client.Client {
	t.Helper()
	keys, _ := filepath.Glob(filepath.Join(dev.data, "auth", "signer-*.json"))
	if len(keys) == 0 {
		t.Fatalf("no signing key in %s/auth: whistle dev makes one", dev.data)
	}
	signer, err := auth.LoadSigner(keys[0])
	if err != nil {
		t.Fatal(err)
	}
	tok, err := signer.Mint(auth.Claims{Subject: "client-test", OrgUnit: orgUnit, Roles: []auth.Role{role}, Audience: "whistle",
		Issuer: "whistle-dev"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(context.Background(), dev.addr, append(opts, client.WithToken(tok))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// leadOf waits, as the city's monitor, until dispatch assigns a ticket and
// returns its lead department.
func leadOf(t *testing.T, id string) string {
	t.Helper()
	monitor := whistlev1.NewDispatchServiceClient(as(t, auth.RoleMonitor, "hh").Conn())
	var lead string
	eventually.True(t, "dispatch to assign "+id, func() bool {
		a, err := monitor.GetAssignment(context.Background(), &whistlev1.GetAssignmentRequest{TicketId: id})
		lead = a.GetAssignment().GetLeadDepartmentId()
		return err == nil && lead != ""
	})
	return lead
}

func report(t *testing.T, c *client.Client, category, grid string) *whistlev1.Ticket {
	t.Helper()
	tk, _, err := c.Report(context.Background(), &whistlev1.ReportRequest{Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY,
		Source: whistlev1.Source_SOURCE_RESIDENT, Category: category, Description: "client test",
		Location: &whistlev1.Location{GridId: grid}, Reporter: &whistlev1.Reporter{OrgUnitId: grid},
		// Test traffic: repeated reports must not raise proactive tickets
		// (hot spots), which would land in the inboxes the tests watch.
		Synthetic: true})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func waitItem(t *testing.T, c *client.Client, id string) *whistlev1.InboxItem {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		it, err := c.GetInboxItem(context.Background(), id)
		if err == nil {
			return it
		}
		if time.Now().After(deadline) {
			t.Fatalf("ticket %s never reached an inbox: %v", id, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Sending the same request again is a retry: it returns the first result.
func TestResendingARequestIsARetry(t *testing.T) {
	tk := report(t, as(t, auth.RoleReporter, "xc-hd-wy-g01"), "noise_commercial", "xc-hd-wy-g01")
	c := as(t, auth.RoleDepartmentHandler, leadOf(t, tk.GetId()))
	it := waitItem(t, c, tk.GetId())
	req := &whistlev1.AcceptRequest{TicketId: tk.GetId(), Actor: &whistlev1.Actor{Id: "h", OrgUnitId: it.GetDepartmentId()}}
	first, err := c.Accept(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Accept(context.Background(), req) // req now carries the request id of the first call
	if err != nil || again.GetVersion() != first.GetVersion() {
		t.Fatalf("resent accept: %v, %v (first %v)", again, err, first)
	}
	if _, err := c.Accept(context.Background(), &whistlev1.AcceptRequest{TicketId: tk.GetId(), Actor: req.Actor}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("a new accept of an accepted ticket: %v", err)
	}
}

// Watch survives a server restart: it reconnects and resumes after the last
// change it handled, so changes made while it was away arrive once each.
func TestWatchResumesAcrossARestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const dept = "yq-env" // only this test sends tickets there
	c := as(t, auth.RoleDepartmentHandler, dept, client.WithRetry(20, 100*time.Millisecond))
	reporter := as(t, auth.RoleReporter, "yq-ht-dls-g01", client.WithRetry(20, 100*time.Millisecond))
	seen := make(chan *whistlev1.InboxChange, 1000)
	done := make(chan error, 1)
	go func() {
		done <- c.Watch(ctx, &whistlev1.WatchInboxRequest{DepartmentId: dept}, func(ch *whistlev1.InboxChange) error {
			seen <- ch
			return nil
		})
	}()
	var want []string
	for i := 0; i < 3; i++ {
		want = append(want, report(t, reporter, "noise_construction", "yq-ht-dls-g01").GetId())
	}
	got := collect(t, seen, 3)
	dev.stop()
	if err := dev.start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		want = append(want, report(t, reporter, "noise_construction", "yq-ht-dls-g01").GetId())
	}
	got = append(got, collect(t, seen, 5)...)
	// Each ticket once, before the restart those reported before it; tickets
	// reported together may reach the inbox in either order (dispatch routes
	// different tickets side by side), but the cursors run without a gap.
	for i, ch := range got {
		part := want[:3]
		if i >= 3 {
			part = want[3:]
		}
		if !slices.Contains(part, ch.GetItem().GetTicketId()) || slices.ContainsFunc(got[:i], func(c *whistlev1.InboxChange) bool {
			return c.GetItem().GetTicketId() == ch.GetItem().GetTicketId()
		}) {
			t.Fatalf("change %d is about %s, want each of %v once, in its part", i, ch.GetItem().GetTicketId(), want)
		}
		if i > 0 && cursorNumber(t, ch) != cursorNumber(t, got[i-1])+1 {
			t.Fatalf("cursor %s follows %s: a gap or a repeat", ch.GetCursor(), got[i-1].GetCursor())
		}
	}
	select {
	case extra := <-seen:
		t.Fatalf("an extra change: %v", extra)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Watch returned %v after its context ended", err)
	}
}

func collect(t *testing.T, ch <-chan *whistlev1.InboxChange, n int) []*whistlev1.InboxChange {
	t.Helper()
	var out []*whistlev1.InboxChange
	timeout := time.After(60 * time.Second)
	for len(out) < n {
		select {
		case c := <-ch:
			out = append(out, c)
		case <-timeout:
			t.Fatalf("got %d of %d changes", len(out), n)
		}
	}
	return out
}

func cursorNumber(t *testing.T, ch *whistlev1.InboxChange) int {
	t.Helper()
	var n int
	for _, r := range ch.GetCursor() {
		n = n*10 + int(r-'0')
	}
	return n
}
