package evaluation_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/events"
	"github.com/whistle-civic/whistle/pkg/eventually"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/services/evaluation"
)

// opened returns the rounds announced in the outbox.
func (f *fixture) opened(t *testing.T) []*whistlev1.Event {
	t.Helper()
	var out []*whistlev1.Event
	for _, ev := range platformtest.Outbox(t, f.deps.DB) {
		if events.TypeOf(ev) == events.EvaluationOpened {
			out = append(out, ev)
		}
	}
	return out
}

// TestOpeningARoundAnnouncesIt: each round evaluation opens (on the first
// resolution, and on the one after a rework) is announced once, with the
// resolution's version, its round, its window and the department; a
// resolution delivered again, or announced again, announces nothing.
func TestOpeningARoundAnnouncesIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := ids.New()
	f.reported(t, id, "xc-hd-dj-g01")
	resolved := events.MustNew(events.Meta{TicketID: id, TicketNumber: "HH-1", Version: 4, OccurredAt: now, Producer: "response"},
		&whistlev1.TicketResolved{DepartmentId: "xc-urban", Result: "fixed"})
	f.deliver(t, resolved)
	got, err := f.client.GetEvaluation(ctx, &whistlev1.GetEvaluationRequest{TicketId: id})
	if err != nil {
		t.Fatal(err)
	}
	check := func(ev *whistlev1.Event, round int32, version int64, due *whistlev1.Evaluation) {
		t.Helper()
		o := ev.GetEvaluationOpened()
		if o.GetRound() != round || ev.GetTicketVersion() != version || o.GetDepartmentId() != "xc-urban" ||
			!o.GetEvaluateDue().AsTime().Equal(due.GetDueAt().AsTime()) || ev.GetProducer() != evaluation.Name ||
			ev.GetTicketId() != id || ev.GetTicketNumber() != "HH-1" || ev.GetOccurredAt().AsTime().Before(now) {
			t.Fatalf("announced %v; want round %d at version %d, due %s", ev, round, version, due.GetDueAt().AsTime())
		}
	}
	evs := f.opened(t)
	if len(evs) != 1 {
		t.Fatalf("%d rounds announced; want 1", len(evs))
	}
	check(evs[0], 1, 4, got.GetEvaluation())

	f.deliver(t, resolved) // delivered again: the inbox knows it
	again := proto.Clone(resolved).(*whistlev1.Event)
	again.EventId = ids.New() // the same resolution announced again: stale
	f.deliver(t, again)
	if n := len(f.opened(t)); n != 1 {
		t.Fatalf("%d rounds announced after the resolution came again; want 1", n)
	}

	if _, err := f.client.Evaluate(ctx, &whistlev1.EvaluateRequest{TicketId: id, Verdict: whistlev1.Verdict_VERDICT_UNSATISFIED,
		Comment: "still broken", ReasonCodes: []string{"not_fixed"}, Evaluator: community}); err != nil {
		t.Fatal(err)
	}
	f.resolved(t, id, 6) // reworked and resolved again
	got, err = f.client.GetEvaluation(ctx, &whistlev1.GetEvaluationRequest{TicketId: id})
	if err != nil {
		t.Fatal(err)
	}
	evs = f.opened(t)
	if len(evs) != 2 {
		t.Fatalf("%d rounds announced after the rework; want 2", len(evs))
	}
	check(evs[1], 2, 6, got.GetEvaluation())
}

// TestOpenedRoundIsPublishedOnce runs the service on JetStream: a resolved
// event reaches its consumer twice, and one evaluation_opened is published.
func TestOpenedRoundIsPublishedOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	b := f.deps.Bus
	var published atomic.Int32
	sub, err := b.Conn().Subscribe(b.Subject(events.EvaluationOpened), func(*nats.Msg) { published.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	id := ids.New()
	data, err := proto.Marshal(events.MustNew(events.Meta{TicketID: id, TicketNumber: "HH-1", Version: 4, OccurredAt: now,
		Producer: "response"}, &whistlev1.TicketResolved{DepartmentId: "xc-urban", Result: "fixed"}))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // no message id: the stream keeps both
		if err := b.Conn().Publish(b.Subject(events.Resolved), data); err != nil {
			t.Fatal(err)
		}
	}
	eventually.True(t, "both deliveries handled and the round published", func() bool {
		c, err := b.JetStream().Consumer(ctx, b.Stream(), evaluation.Name)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream >= 2 && published.Load() > 0
	})
	if err := b.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	evs := f.opened(t)
	if n := published.Load(); n != 1 || len(evs) != 1 || evs[0].GetEvaluationOpened().GetRound() != 1 {
		t.Fatalf("published %d evaluation_opened, outbox %v; want one, of round 1", n, evs)
	}
}
