package intake_test

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/evalcode"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
	"github.com/whistle-civic/whistle/pkg/grpcserver/grpctest"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/services/intake"
)

// codeKeys are the evaluation code keys of the tests.
var codeKeys = func() *evalcode.Keys {
	k, err := evalcode.New([]byte("the evaluation code key of the tests, 32+ bytes"))
	if err != nil {
		panic(err)
	}
	return k
}()

func TestMain(m *testing.M) { pgtest.Main(m) }

var start = time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)

type fixture struct {
	deps   platform.Deps
	svc    *intake.Service
	client whistlev1.IntakeServiceClient
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	deps := platformtest.Deps(t, intake.Name, intake.Migrations(), nil, clock.NewFake(start))
	svc := intake.New(deps, intake.Config{City: "HH", Codes: codeKeys})
	conn := grpctest.Serve(t, grpcserver.Options{Log: deps.Log, Telemetry: deps.Telemetry}, svc.Register)
	return &fixture{deps: deps, svc: svc, client: whistlev1.NewIntakeServiceClient(conn)}
}

func validReport(key string) *whistlev1.ReportRequest {
	return &whistlev1.ReportRequest{
		IdempotencyKey: key,
		Kind:           whistlev1.WhistleKind_WHISTLE_KIND_DAILY,
		Source:         whistlev1.Source_SOURCE_GRID_PATROL,
		Category:       "road_damage",
		Title:          "Pothole",
		Description:    "A deep pothole outside No. 12",
		Location: &whistlev1.Location{GridId: "xc-hd-dj-g01",
			Coordinates: &whistlev1.Coordinates{Latitude: 40.84, Longitude: 111.75}},
		Reporter: &whistlev1.Reporter{OrgUnitId: "xc-hd-dj-g01", Name: "Wang", Phone: "+86 138 0000 0000"},
	}
}

func (f *fixture) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := f.deps.DB.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestReportCreatesTicketAndReportedEvent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	resp, err := f.client.Report(context.Background(), validReport("k1"))
	if err != nil {
		t.Fatal(err)
	}
	tk := resp.GetTicket()
	if !resp.GetCreated() || !ids.Valid(tk.GetId()) {
		t.Fatalf("created=%v id=%q", resp.GetCreated(), tk.GetId())
	}
	if !regexp.MustCompile(`^HH-20261126-\d{5}$`).MatchString(tk.GetNumber()) {
		t.Fatalf("number %q", tk.GetNumber())
	}
	if !tk.GetReportedAt().AsTime().Equal(start) || tk.GetReporter().GetPhone() != "+86 138 0000 0000" {
		t.Fatalf("ticket %v", tk)
	}
	var payload []byte
	var typ string
	if err := f.deps.DB.Pool.QueryRow(context.Background(), "SELECT event_type, payload FROM outbox").Scan(&typ, &payload); err != nil {
		t.Fatal(err)
	}
	ev, err := events.Decode(payload)
	if err != nil || typ != events.Reported {
		t.Fatalf("outbox holds %s: %v", typ, err)
	}
	if ev.GetTicketVersion() != 1 || ev.GetTicketId() != tk.GetId() || ev.GetProducer() != "intake" ||
		!proto.Equal(ev.GetReported().GetTicket(), tk) {
		t.Fatalf("reported event %v does not match ticket %v", ev, tk)
	}
	// The code is the ticket's own, derived with the key; neither it nor any
	// hash of it travels in the event.
	reported := ev.GetReported().ProtoReflect()
	if code := resp.GetEvaluationCode(); code != codeKeys.Code(tk.GetId()) || bytes.Contains(payload, []byte(code)) ||
		reported.Has(reported.Descriptor().Fields().ByName("evaluation_code_sha256")) {
		t.Fatalf("evaluation code %q; the event %v must carry neither it nor its hash", code, ev.GetReported())
	}
	got, err := f.client.GetTicket(context.Background(), &whistlev1.GetTicketRequest{Ticket: tk.GetNumber()})
	if err != nil || !proto.Equal(got.GetTicket(), tk) {
		t.Fatalf("GetTicket by number = %v, %v", got, err)
	}
}

func TestSameKeyReturnsSameTicket(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	first, err := f.client.Report(context.Background(), validReport("same"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.client.Report(context.Background(), validReport("same"))
	if err != nil {
		t.Fatal(err)
	}
	if again.GetCreated() || again.GetEvaluationCode() != "" || !proto.Equal(again.GetTicket(), first.GetTicket()) {
		t.Fatalf("retry returned created=%v %v, want the first ticket", again.GetCreated(), again.GetTicket())
	}
	// The same key from another org unit is another whistle.
	other := validReport("same")
	other.Reporter.OrgUnitId = "xc-hd-dj-g02"
	if r, err := f.client.Report(context.Background(), other); err != nil || !r.GetCreated() {
		t.Fatalf("same key, other reporter: %v, %v", r, err)
	}
	changed := validReport("same")
	changed.Description = "Something else entirely"
	_, err = f.client.Report(context.Background(), changed)
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "idempotency key already used") {
		t.Fatalf("reused key with another report: %v", err)
	}
	if n := f.count(t, "tickets"); n != 2 {
		t.Fatalf("%d tickets, want 2", n)
	}
	if n := f.count(t, "outbox"); n != 2 {
		t.Fatalf("%d events, want 2", n)
	}
}

func TestConcurrentRetriesMakeOneTicket(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var wg sync.WaitGroup
	got := make([]string, 10)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := f.client.Report(context.Background(), validReport("race"))
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = r.GetTicket().GetId()
		}()
	}
	wg.Wait()
	for _, id := range got {
		if id != got[0] {
			t.Fatalf("retries returned different tickets: %v", got)
		}
	}
	if n := f.count(t, "tickets"); n != 1 {
		t.Fatalf("%d tickets, want 1", n)
	}
}

func TestNumbersAreUniqueAcrossReplicas(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	second := intake.New(f.deps, intake.Config{City: "HH"})
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		svc := f.svc
		if i%3 == 0 {
			svc = second
		}
		in := intake.ReportInput{IdempotencyKey: fmt.Sprint(i), Kind: intake.KindDaily, Source: 1, Category: "noise",
			Description: "loud", Location: intake.Location{GridID: "g"}, Reporter: intake.Reporter{OrgUnitID: "g"}}
		tk, _, err := svc.Report(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if seen[tk.Number] {
			t.Fatalf("number %s handed out twice", tk.Number)
		}
		seen[tk.Number] = true
	}
}

func TestBadRequestsChangeNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mutate := func(m func(r *whistlev1.ReportRequest)) *whistlev1.ReportRequest {
		r := validReport("bad")
		m(r)
		return r
	}
	reports := []struct {
		name  string
		req   *whistlev1.ReportRequest
		field string
	}{
		{"no key", mutate(func(r *whistlev1.ReportRequest) { r.IdempotencyKey = "" }), "idempotency_key"},
		{"key with spaces", mutate(func(r *whistlev1.ReportRequest) { r.IdempotencyKey = "a b" }), "idempotency_key"},
		{"no kind", mutate(func(r *whistlev1.ReportRequest) { r.Kind = 0 }), "kind"},
		{"unknown kind", mutate(func(r *whistlev1.ReportRequest) { r.Kind = 42 }), "kind"},
		{"unknown source", mutate(func(r *whistlev1.ReportRequest) { r.Source = 99 }), "source"},
		{"no category", mutate(func(r *whistlev1.ReportRequest) { r.Category = "" }), "category"},
		{"category with capitals", mutate(func(r *whistlev1.ReportRequest) { r.Category = "Road Damage" }), "category"},
		{"no description", mutate(func(r *whistlev1.ReportRequest) { r.Description = "" }), "description"},
		{"blank description", mutate(func(r *whistlev1.ReportRequest) { r.Description = "   " }), "description"},
		{"huge description", mutate(func(r *whistlev1.ReportRequest) { r.Description = strings.Repeat("x", 4001) }), "description"},
		{"no location", mutate(func(r *whistlev1.ReportRequest) { r.Location = nil }), "location"},
		{"empty location", mutate(func(r *whistlev1.ReportRequest) { r.Location = &whistlev1.Location{} }), "location"},
		{"latitude 91", mutate(func(r *whistlev1.ReportRequest) { r.Location.Coordinates.Latitude = 91 }), "latitude"},
		{"longitude -181", mutate(func(r *whistlev1.ReportRequest) { r.Location.Coordinates.Longitude = -181 }), "longitude"},
		{"no reporter", mutate(func(r *whistlev1.ReportRequest) { r.Reporter = nil }), "reporter"},
		{"reporter without org unit", mutate(func(r *whistlev1.ReportRequest) { r.Reporter.OrgUnitId = "" }), "org_unit_id"},
		{"phone with letters", mutate(func(r *whistlev1.ReportRequest) { r.Reporter.Phone = "call me" }), "phone"},
	}
	for _, tt := range reports {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.client.Report(context.Background(), tt.req)
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("got %v, want InvalidArgument naming %q", err, tt.field)
			}
		})
	}
	reads := []struct {
		name string
		call func() error
		code codes.Code
	}{
		{"unknown id", func() error {
			_, err := f.client.GetTicket(context.Background(), &whistlev1.GetTicketRequest{Ticket: ids.New()})
			return err
		}, codes.NotFound},
		{"unknown number", func() error {
			_, err := f.client.GetTicket(context.Background(), &whistlev1.GetTicketRequest{Ticket: "HH-20260101-99999"})
			return err
		}, codes.NotFound},
		{"bad page token", func() error {
			_, err := f.client.ListTickets(context.Background(), &whistlev1.ListTicketsRequest{PageToken: "nope"})
			return err
		}, codes.InvalidArgument},
		{"page size too big", func() error {
			_, err := f.client.ListTickets(context.Background(), &whistlev1.ListTicketsRequest{PageSize: 501})
			return err
		}, codes.InvalidArgument},
	}
	for _, tt := range reads {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); status.Code(err) != tt.code {
				t.Fatalf("got %v, want %s", err, tt.code)
			}
		})
	}
	if n := f.count(t, "tickets") + f.count(t, "outbox"); n != 0 {
		t.Fatalf("bad requests wrote %d rows", n)
	}
}

func TestListTicketsPagesNewestFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var want []string
	for i := 0; i < 7; i++ {
		r := validReport(fmt.Sprint("p", i))
		r.Synthetic = i == 3
		resp, err := f.client.Report(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		if i != 3 {
			want = append([]string{resp.GetTicket().GetId()}, want...)
		}
	}
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		resp, err := f.client.ListTickets(context.Background(), &whistlev1.ListTicketsRequest{PageSize: 4, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range resp.GetTickets() {
			got = append(got, tk.GetId())
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
		if pages > 3 {
			t.Fatal("pagination does not end")
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("listed %v\nwant   %v (newest first, synthetic left out)", got, want)
	}
}

func TestProactiveEventRaisesOneTicket(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	related := []string{ids.New(), ids.New()}
	ev := events.MustNew(events.Meta{Producer: "monitoring", OccurredAt: start}, &whistlev1.HotSpotDetected{
		HotSpotId: "hs-1", Category: "water_leak", GridId: "xc-hd-dj-g01", Rule: "3 in 7 days", TicketIds: related,
	})
	p := &inbox.Processor{DB: f.deps.DB, Consumer: intake.Name, Apply: intake.ApplyProactive(f.svc)}
	for i := 0; i < 2; i++ {
		again := proto.Clone(ev).(*whistlev1.Event)
		if i == 1 {
			again.EventId = ids.New() // a second detection of the same hot spot
		}
		if _, err := p.Process(context.Background(), again); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := f.client.ListTickets(context.Background(), &whistlev1.ListTicketsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetTickets()) != 1 {
		t.Fatalf("%d tickets, want 1", len(resp.GetTickets()))
	}
	tk := resp.GetTickets()[0]
	if tk.GetSource() != whistlev1.Source_SOURCE_PROACTIVE || strings.Join(tk.GetRelatedTicketIds(), ",") != strings.Join(related, ",") {
		t.Fatalf("proactive ticket %v", tk)
	}
}
