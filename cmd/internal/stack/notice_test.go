package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/egress"
	"github.com/whistle-civic/whistle/pkg/eventually"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/notify"
	"github.com/whistle-civic/whistle/pkg/webhook"
	"github.com/whistle-civic/whistle/services/intake"

	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

// sms is an SMS gateway's endpoint: it fails its first request with a 502
// and keeps the messages it accepted after that.
type sms struct {
	mu    sync.Mutex
	calls int
	sent  []map[string]string
	auth  []string
}

func (g *sms) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls++
	if g.calls == 1 {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	var m map[string]string
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	g.sent, g.auth = append(g.sent, m), append(g.auth, r.Header.Get("Authorization"))
}

func (g *sms) messages() []map[string]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]map[string]string(nil), g.sent...)
}

// TestResidentsHearOfTheirTicketBySMS resolves and closes a ticket whose
// reporter left no phone number, then one whose reporter did, through an
// HTTP SMS gateway that fails once: the second reporter gets their
// evaluation code when the ticket is resolved and a last word when it is
// closed, each once; the first gets nothing (intake follows the stream in
// order, so a notice of the first ticket would have come before the
// second's last).
func TestResidentsHearOfTheirTicketBySMS(t *testing.T) {
	t.Parallel()
	g := &sms{}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	loopback := egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	notices := intake.NoticeConfig{Poll: 100 * time.Millisecond, Retry: webhook.Schedule{Base: 100 * time.Millisecond, Max: 200 * time.Millisecond},
		Notifier: notify.HTTPGateway{URL: srv.URL + "/send", Token: "gw-token", Client: loopback.Client(time.Second)}}
	r := stacktest.StartWith(t, stacktest.Options{Intake: intake.Config{Notices: notices}})
	s := scenario{t: t, r: r, ctx: context.Background()}
	const grid, community, phone = "xc-hd-dj-g01", "xc-hd-dj", "+86 139 1234 5678"

	var ids, numbers []string
	var code string
	for i, p := range []string{"", phone} {
		resp, err := s.as(auth.RoleReporter, grid).Intake.Report(s.ctx, &whistlev1.ReportRequest{IdempotencyKey: fmt.Sprintf("sms-%d", i),
			Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY, Source: whistlev1.Source_SOURCE_RESIDENT, Category: "water_leak",
			Description: "漏水", Location: &whistlev1.Location{GridId: grid}, Reporter: &whistlev1.Reporter{OrgUnitId: grid, Phone: p}})
		s.do("report", err)
		ids, numbers = append(ids, resp.GetTicket().GetId()), append(numbers, resp.GetTicket().GetNumber())
		if i == 1 {
			code = resp.GetEvaluationCode()
		}
	}
	if code == "" {
		t.Fatal("the report gave no evaluation code")
	}
	for _, id := range ids {
		eventually.True(t, id+" dispatched", func() bool { return s.state(id).GetLeadDepartmentId() != "" })
		s.finish(id, s.state(id).GetLeadDepartmentId(), community)
	}
	want := map[string]string{notify.Text(notify.KindResolved, numbers[1], code): phone, notify.Text(notify.KindClosed, numbers[1], ""): phone}
	eventually.Seen(t, "both notices", func() (bool, string) {
		got := g.messages()
		return len(got) >= len(want), fmt.Sprint(got)
	})
	got := g.messages()
	if len(got) != len(want) {
		t.Fatalf("the gateway got %v; want two messages, to the second reporter only", got)
	}
	for _, m := range got {
		if to, ok := want[m["text"]]; !ok || m["to"] != to {
			t.Errorf("message %v; want the evaluation code %s of %s and its closing notice, to %s", m, code, numbers[1], phone)
		}
		delete(want, m["text"])
	}
	if g.auth[0] != "Bearer gw-token" {
		t.Errorf("the gateway was called with Authorization %q", g.auth[0])
	}
}
