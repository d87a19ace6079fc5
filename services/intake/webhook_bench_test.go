package intake_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/egress"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/pkg/webhook"
	"github.com/whistle-civic/whistle/services/intake"
)

// BenchmarkWebhookDelivery publishes b.N escalated events (two for each
// ticket) on a real JetStream and measures how fast intake's webhooks
// consumer queues them in PostgreSQL and its delivery loop POSTs them,
// signed, to a subscriber on loopback, until the subscriber has every one:
// deliveries/s, end to end.
func BenchmarkWebhookDelivery(b *testing.B) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
	}))
	b.Cleanup(srv.Close)
	deps := platformtest.Deps(b, intake.Name, intake.Migrations(), nil, nil)
	svc := intake.New(deps, intake.Config{Webhooks: intake.WebhookConfig{Egress: egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}})
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := svc.AddWebhook(ctx, intake.NewWebhook{URL: srv.URL + "/hook", EventTypes: []string{events.Escalated}, By: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := webhook.ParseSecret(sub.Secret); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	})
	js := deps.Bus.JetStream()
	subject := deps.Bus.Subject(events.Escalated)
	b.ResetTimer()
	start := time.Now()
	var ticket string
	for i := range b.N {
		if i%2 == 0 {
			ticket = ids.New()
		}
		ev := events.MustNew(events.Meta{TicketID: ticket, TicketNumber: fmt.Sprintf("HH-20261203-%05d", i/2), Version: 2,
			OccurredAt: time.Now(), Producer: "dispatch", Actor: &whistlev1.Actor{Id: "service:dispatch"}},
			&whistlev1.TicketEscalated{Level: int32(1 + i%2), Stage: "accept", NotifiedOrgUnitId: "xc-hd"})
		data, err := proto.Marshal(ev)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := js.PublishAsync(subject, data); err != nil {
			b.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
	deadline := time.Now().Add(5*time.Minute + time.Duration(b.N)*time.Millisecond)
	for got.Load() < int64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d events delivered", got.Load(), b.N)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
}
