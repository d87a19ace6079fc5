package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/egress"
	"github.com/whistle-civic/whistle/pkg/eventually"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/webhook"
	"github.com/whistle-civic/whistle/services/intake"

	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

// received is one delivery a receiver accepted.
type received struct {
	ev     webhook.Event
	header http.Header
	body   string
}

// receiver is a subscriber's endpoint: it verifies every request's
// signature as a receiver must, answers as fail says for each attempt of an
// event, and keeps what it accepted, by path and ticket, in arrival order.
type receiver struct {
	secret []byte
	// fail says how to answer an attempt (1 for the first) of an event sent
	// to path: 0 accepts it, -1 hangs past the sender's timeout, else the
	// status to answer.
	fail func(path string, ev webhook.Event, attempt int) int

	mu       sync.Mutex
	got      map[string]map[string][]received // path → ticket → deliveries
	attempts map[string]int                   // path + event id → attempts
	bad      []string                         // why requests were refused
}

func newReceiver(t *testing.T, secret string) (*receiver, *httptest.Server) {
	key, err := webhook.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{secret: key, got: map[string]map[string][]received{}, attempts: map[string]int{},
		fail: func(string, webhook.Event, int) int { return 0 }}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var ev webhook.Event
	err := webhook.Verify(rc.secret, r.Header, body, time.Now(), 0)
	if err == nil {
		err = json.Unmarshal(body, &ev)
	}
	if err == nil && r.Header.Get("Content-Type") != webhook.ContentType {
		err = fmt.Errorf("content type %q", r.Header.Get("Content-Type"))
	}
	rc.mu.Lock()
	if err != nil {
		rc.bad = append(rc.bad, err.Error())
		rc.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.attempts[r.URL.Path+ev.ID]++
	answer := rc.fail(r.URL.Path, ev, rc.attempts[r.URL.Path+ev.ID])
	if answer == 0 {
		byTicket := rc.got[r.URL.Path]
		if byTicket == nil {
			byTicket = map[string][]received{}
			rc.got[r.URL.Path] = byTicket
		}
		ticket := ev.Extensions["whistleticket"]
		byTicket[ticket] = append(byTicket[ticket], received{ev: ev, header: r.Header.Clone(), body: string(body)})
	}
	rc.mu.Unlock()
	switch answer {
	case 0:
		w.WriteHeader(http.StatusNoContent)
	case -1:
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	default:
		w.WriteHeader(answer)
	}
}

// types returns the event types path received for a ticket, in order.
func (rc *receiver) types(path, ticket string) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, d := range rc.got[path][ticket] {
		out = append(out, strings.TrimPrefix(d.ev.Type, "org.whistle.ticket."))
	}
	return out
}

func (rc *receiver) deliveries(path, ticket string) []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got[path][ticket])
}

// fastWebhooks retries quickly, gives up soon and lets the test's receivers
// on loopback be reached.
func fastWebhooks(allowLoopback bool) intake.WebhookConfig {
	c := intake.WebhookConfig{Retry: webhook.Schedule{Base: 100 * time.Millisecond, Max: 400 * time.Millisecond, GiveUpAfter: time.Minute},
		Timeout: 500 * time.Millisecond, Poll: 100 * time.Millisecond}
	if allowLoopback {
		c.Egress.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}
	return c
}

func (s scenario) addWebhook(url, secret string, types, units []string) *whistlev1.Webhook {
	s.t.Helper()
	resp, err := s.as(auth.RoleAdmin, s.r.City).Webhooks.AddWebhook(s.ctx, &whistlev1.AddWebhookRequest{Url: url, Secret: secret,
		EventTypes: types, OrgUnitIds: units, Description: "test", Actor: &whistlev1.Actor{Id: "admin", OrgUnitId: s.r.City}})
	s.do("add webhook "+url, err)
	return resp.GetWebhook()
}

// TestWebhooksDeliverSignedEventsInOrderPerTicket drives two tickets through
// the loop with two subscriptions: one for everything in district xc, whose
// endpoint answers 500 to the first try of each accepted event and times out
// on the second, and one for the tickets dispatched to xc-water only. Every
// delivery is signed, a ticket's events arrive in their order even while one
// of them is retried, nothing personal leaves, and the trace continues.
func TestWebhooksDeliverSignedEventsInOrderPerTicket(t *testing.T) {
	t.Parallel()
	r := stacktest.StartWith(t, stacktest.Options{Intake: intake.Config{Webhooks: fastWebhooks(true)}})
	s := scenario{t: t, r: r, ctx: context.Background()}
	secret, err := webhook.NewSecret()
	s.do("new secret", err)
	rc, srv := newReceiver(t, secret)
	rc.fail = func(path string, ev webhook.Event, attempt int) int {
		if path != "/all" || ev.Type != "org.whistle.ticket.accepted" {
			return 0
		}
		return map[int]int{1: http.StatusInternalServerError, 2: -1}[attempt]
	}
	all := s.addWebhook(srv.URL+"/all", secret, nil, []string{"xc"})
	s.addWebhook(srv.URL+"/water", secret, []string{"dispatched"}, []string{"xc-water"})
	s.addWebhook(srv.URL+"/elsewhere", secret, nil, []string{"hn"})
	if !strings.HasPrefix(all.GetSecretHint(), "whsec_") || strings.Contains(all.GetSecretHint(), secret[10:]) {
		t.Fatalf("secret hint %q shows too much, or not the secret's start", all.GetSecretHint())
	}

	const grid, community = "xc-hd-dj-g01", "xc-hd-dj"
	reporter := s.as(auth.RoleReporter, grid)
	var ids []string
	for _, category := range []string{"water_leak", "road_damage"} {
		resp, err := reporter.Intake.Report(s.ctx, &whistlev1.ReportRequest{IdempotencyKey: "hook-" + category, Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY,
			Source: whistlev1.Source_SOURCE_GRID_PATROL, Category: category, Description: "webhook " + category,
			Location: &whistlev1.Location{GridId: grid}, Reporter: &whistlev1.Reporter{OrgUnitId: grid, Name: "王小明", Phone: "+86 139 1234 5678"}})
		s.do("report", err)
		ids = append(ids, resp.GetTicket().GetId())
	}
	for _, id := range ids {
		eventually.True(t, id+" dispatched", func() bool { return s.state(id).GetLeadDepartmentId() != "" })
		s.finish(id, s.state(id).GetLeadDepartmentId(), community)
	}
	for _, id := range ids {
		eventually.Seen(t, "the closed event of "+id+" delivered to /all", func() (bool, string) {
			got := rc.types("/all", id)
			return len(got) > 0 && got[len(got)-1] == "closed", fmt.Sprint(got)
		})
	}

	for _, id := range ids {
		got := rc.types("/all", id)
		for _, want := range []string{"reported", "dispatched", "accepted", "resolved", "evaluation_opened", "evaluated", "closed"} {
			if slices.Index(got, want) < 0 {
				t.Errorf("%s: /all received %v, without %s", id, got, want)
			}
		}
		if got[0] != "reported" {
			t.Errorf("%s: /all received %v first; want reported", id, got)
		}
		seen, last := map[string]bool{}, int64(0)
		for _, d := range rc.deliveries("/all", id) {
			v, _ := strconv.ParseInt(d.ev.Extensions["whistleversion"], 10, 64)
			if v < last || seen[d.ev.ID] {
				t.Errorf("%s: /all received %v: version %d after %d, or event %s twice; want each once, in order", id, got, v, last, d.ev.ID)
			}
			seen[d.ev.ID], last = true, v
			if strings.Contains(d.body, "139 1234") || strings.Contains(d.body, "王小明") {
				t.Errorf("%s: a %s delivery carries the reporter's phone or name: %s", id, d.ev.Type, d.body)
			}
			if tp := d.header.Get("traceparent"); tp == "" || !sameTrace(tp, d.ev.Extensions["traceparent"]) {
				t.Errorf("%s: %s delivered with traceparent %q, the event's is %q; want the event's trace continued", id, d.ev.Type, tp, d.ev.Extensions["traceparent"])
			}
			if d.header.Get("webhook-id") != d.ev.ID {
				t.Errorf("webhook-id %q, event id %q; want the event id as the idempotency key", d.header.Get("webhook-id"), d.ev.ID)
			}
		}
	}
	rc.mu.Lock()
	for key, n := range rc.attempts {
		if strings.HasPrefix(key, "/all") && n > 1 && n != 3 {
			t.Errorf("%s tried %d times; want 3 (a 500, a timeout, then accepted)", key, n)
		}
	}
	if len(rc.bad) > 0 {
		t.Errorf("requests with bad signatures or bodies: %v", rc.bad)
	}
	if len(rc.got["/elsewhere"]) > 0 {
		t.Errorf("a subscription for district hn received events of xc: %v", rc.got["/elsewhere"])
	}
	rc.mu.Unlock()
	if got := rc.types("/water", ids[0]); !slices.Equal(got, []string{"dispatched"}) {
		t.Errorf("/water (dispatched to xc-water) received %v of the water leak; want its dispatch", got)
	}
	if got := rc.types("/water", ids[1]); len(got) > 0 {
		t.Errorf("/water received %v of the road damage, which went to xc-urban", got)
	}
	eventually.True(t, "nothing left pending", func() bool {
		resp, err := s.as(auth.RoleMonitor, s.r.City).Webhooks.ListWebhooks(s.ctx, &whistlev1.ListWebhooksRequest{})
		return err == nil && len(resp.GetWebhooks()) == 3 && resp.GetWebhooks()[0].GetPending() == 0 && resp.GetWebhooks()[0].GetFailed() == 0
	})
}

// sameTrace reports whether two W3C traceparents name the same trace.
func sameTrace(a, b string) bool {
	pa, pb := strings.Split(a, "-"), strings.Split(b, "-")
	return len(pa) == 4 && len(pb) == 4 && pa[1] == pb[1]
}

// TestWebhookEndpointsOnPrivateAddressesAreRefused checks the egress rules
// without an allow-list: an endpoint written as a private, loopback,
// link-local or metadata address is refused when added, and one whose name
// resolves to loopback is refused when connecting, its deliveries kept as
// failures, while the endpoint hears nothing.
func TestWebhookEndpointsOnPrivateAddressesAreRefused(t *testing.T) {
	t.Parallel()
	r := stacktest.StartWith(t, stacktest.Options{Intake: intake.Config{Webhooks: fastWebhooks(false)}})
	s := scenario{t: t, r: r, ctx: context.Background()}
	secret, err := webhook.NewSecret()
	s.do("new secret", err)
	rc, srv := newReceiver(t, secret)
	admin := s.as(auth.RoleAdmin, s.r.City).Webhooks
	me := &whistlev1.Actor{Id: "admin", OrgUnitId: s.r.City}
	for _, url := range []string{srv.URL + "/hook", "http://10.1.2.3/hook", "http://[::1]:8080/", "http://169.254.169.254/latest/meta-data",
		"http://192.168.0.1/", "file:///etc/passwd", "gopher://example.org/", "http://user:pw@example.org/"} {
		_, err := admin.AddWebhook(s.ctx, &whistlev1.AddWebhookRequest{Url: url, Actor: me})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("AddWebhook(%s): %v; want InvalidArgument", url, err)
		}
	}
	for _, req := range []*whistlev1.AddWebhookRequest{
		{Url: "https://hooks.example.org/", EventTypes: []string{"imported"}},
		{Url: "https://hooks.example.org/", EventTypes: []string{"org_tree"}},
		{Url: "https://hooks.example.org/", OrgUnitIds: []string{"nowhere"}},
		{Url: "https://hooks.example.org/", Secret: "whsec_c2hvcnQ="},
	} {
		req.Actor = me
		if _, err := admin.AddWebhook(s.ctx, req); status.Code(err) != codes.InvalidArgument {
			t.Errorf("AddWebhook(%v): %v; want InvalidArgument", req, err)
		}
	}
	if resp, err := admin.ListWebhooks(s.ctx, &whistlev1.ListWebhooksRequest{}); err != nil || len(resp.GetWebhooks()) > 0 {
		t.Fatalf("after refused adds, ListWebhooks: %v, %v; want none", resp, err)
	}
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	hook := s.addWebhook("http://localhost:"+port+"/hook", secret, []string{"reported"}, nil)

	test, err := admin.TestWebhook(s.ctx, &whistlev1.TestWebhookRequest{Id: hook.GetId(), Actor: me})
	s.do("test webhook", err)
	if test.GetDelivered() || !strings.Contains(test.GetError(), "refused") {
		t.Errorf("TestWebhook to a name on loopback: %v; want not delivered, refused", test)
	}
	id := s.report("private-hook", "water_leak", "xc-hd-dj-g01")
	var failures []*whistlev1.WebhookFailure
	eventually.Seen(t, "the reported event listed as a failure", func() (bool, string) {
		resp, err := s.as(auth.RoleMonitor, s.r.City).Webhooks.ListWebhookFailures(s.ctx, &whistlev1.ListWebhookFailuresRequest{WebhookId: hook.GetId()})
		failures = resp.GetFailures()
		return err == nil && len(failures) == 1, fmt.Sprint(failures, err)
	})
	if f := failures[0]; f.GetTicketId() != id || f.GetEventType() != "reported" || !strings.Contains(f.GetError(), egress.ErrRefused.Error()) || f.GetAttempts() != 1 {
		t.Errorf("failure %v; want the reported event of %s, refused at the first attempt", f, id)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.attempts) > 0 {
		t.Errorf("the endpoint on loopback was reached: %v", rc.attempts)
	}
}

// TestWebhookDeliveriesSurviveARestart queues deliveries while the endpoint
// fails, stops the stack, starts another on the same database and stream,
// and sees every event delivered once the endpoint is back, and new ones
// after them.
func TestWebhookDeliveriesSurviveARestart(t *testing.T) {
	t.Parallel()
	opts := stacktest.Options{Intake: intake.Config{Webhooks: fastWebhooks(true)}}
	r := stacktest.StartWith(t, opts)
	s := scenario{t: t, r: r, ctx: context.Background()}
	secret, err := webhook.NewSecret()
	s.do("new secret", err)
	rc, srv := newReceiver(t, secret)
	var mu sync.Mutex
	down := true
	rc.fail = func(string, webhook.Event, int) int {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return http.StatusServiceUnavailable
		}
		return 0
	}
	hook := s.addWebhook(srv.URL+"/hook", secret, []string{"reported", "dispatched"}, nil)
	var ids []string
	for i := range 3 {
		ids = append(ids, s.report(fmt.Sprintf("restart-%d", i), "water_leak", "xc-hd-dj-g01"))
	}
	eventually.True(t, "six deliveries waiting", func() bool {
		resp, err := s.monitor().Webhooks.ListWebhooks(s.ctx, &whistlev1.ListWebhooksRequest{})
		return err == nil && len(resp.GetWebhooks()) == 1 && resp.GetWebhooks()[0].GetPending() == 6
	})
	if err := r.Stack.Shutdown(s.ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	down = false
	mu.Unlock()

	opts.NATS, opts.DatabaseURL = r.NATS, r.Config.DatabaseURL
	s.r = stacktest.StartWith(t, opts)
	ids = append(ids, s.report("restart-after", "water_leak", "xc-hd-dj-g01"))
	for _, id := range ids {
		eventually.Seen(t, id+" reported and dispatched, delivered", func() (bool, string) {
			got := rc.types("/hook", id)
			return slices.Equal(got, []string{"reported", "dispatched"}), fmt.Sprint(got)
		})
	}
	eventually.True(t, "nothing left pending", func() bool {
		resp, err := s.monitor().Webhooks.ListWebhooks(s.ctx, &whistlev1.ListWebhooksRequest{})
		return err == nil && resp.GetWebhooks()[0].GetId() == hook.GetId() && resp.GetWebhooks()[0].GetPending() == 0
	})
}
