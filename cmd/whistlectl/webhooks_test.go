package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/egress"
	poll "github.com/whistle-civic/whistle/pkg/eventually"
	"github.com/whistle-civic/whistle/pkg/webhook"
	"github.com/whistle-civic/whistle/services/intake"

	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

// TestWebhooksCommands adds a subscription, lists it, tests it and sees a
// report delivered to it, signed with the secret add printed; an endpoint
// that answers 410 Gone has its delivery listed by failures; a private
// address is refused with what to do; remove ends a subscription.
func TestWebhooksCommands(t *testing.T) {
	var mu sync.Mutex
	var secret []byte
	var got []webhook.Event
	var bad []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/gone" {
			w.WriteHeader(http.StatusGone)
			return
		}
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		var ev webhook.Event
		if err := webhook.Verify(secret, r.Header, body, time.Now(), 0); err != nil || json.Unmarshal(body, &ev) != nil {
			bad = append(bad, string(body))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		got = append(got, ev)
	}))
	t.Cleanup(srv.Close)
	r := startStackWith(t, stacktest.Options{Intake: intake.Config{Webhooks: intake.WebhookConfig{
		Egress: egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, Poll: 100 * time.Millisecond}}})

	out := mustCtl(t, r.Addr, "webhooks", "add", srv.URL+"/hook", "--events", "reported", "--units", "xc-hd", "--description", "街道系统")
	m := regexp.MustCompile(`added webhook (\S+) for .*\nsecret: (whsec_\S+)\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("webhooks add printed:\n%s", out)
	}
	id := m[1]
	key, err := webhook.ParseSecret(m[2])
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	secret = key
	mu.Unlock()
	out = mustCtl(t, r.Addr, "webhooks", "list")
	if !regexp.MustCompile(`(?m)^` + id + `\s+` + regexp.QuoteMeta(srv.URL) + `/hook\s+reported\s+xc-hd\s+0\s+0\s+whsec_\S+…\s+街道系统$`).MatchString(out) {
		t.Fatalf("webhooks list:\n%s", out)
	}
	if strings.Contains(out, m[2]) {
		t.Fatalf("webhooks list shows the secret:\n%s", out)
	}
	if out := mustCtl(t, r.Addr, "webhooks", "test", id); !regexp.MustCompile(`^delivered test event \S+: HTTP 200 in \d+ ms\n$`).MatchString(out) {
		t.Fatalf("webhooks test printed %q", out)
	}
	number := reportOne(t, r.Addr, "hook-cli", "road_damage")
	poll.Seen(t, "the report delivered", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 2, fmt.Sprint(got)
	})
	mu.Lock()
	if len(got) != 2 || got[0].Type != "org.whistle.webhook.test" || got[1].Type != "org.whistle.ticket.reported" || got[1].Subject != number || len(bad) > 0 {
		t.Errorf("the endpoint received %v (refused %v); want the test event, then %s's report", got, bad, number)
	}
	mu.Unlock()

	gone := regexp.MustCompile(`added webhook (\S+)`).FindStringSubmatch(mustCtl(t, r.Addr, "webhooks", "add", srv.URL+"/gone", "--events", "reported"))[1]
	if _, err := ctl(t, r.Addr, "webhooks", "test", gone); err == nil || !strings.Contains(err.Error(), "not delivered (HTTP 410") {
		t.Errorf("webhooks test of an endpoint answering 410: %v", err)
	}
	reportOne(t, r.Addr, "hook-gone", "road_damage")
	out = eventuallyMatch(t, r.Addr, `(?m)^\d+\s+\S+ \S+\s+`+gone+`\s+reported\s+\S+\s+1\s+410\s+webhook: the receiver rejected the event: 410 Gone$`, "webhooks", "failures")
	if !strings.HasPrefix(out, "DELIVERY") {
		t.Fatalf("webhooks failures:\n%s", out)
	}

	if _, err := ctl(t, r.Addr, "webhooks", "add", "http://10.20.0.7/hook"); err == nil || !strings.HasPrefix(err.Error(), "refused: ") ||
		!strings.Contains(err.Error(), "WHISTLE_EGRESS_ALLOW") {
		t.Errorf("webhooks add of a private address: %v; want it refused (InvalidArgument), naming the allow-list", err)
	}
	if out := mustCtl(t, r.Addr, "webhooks", "remove", id); !strings.Contains(out, "removed webhook "+id) {
		t.Fatalf("webhooks remove printed %q", out)
	}
	if out := mustCtl(t, r.Addr, "webhooks", "list"); strings.Contains(out, id) {
		t.Fatalf("webhooks list after remove:\n%s", out)
	}
}
