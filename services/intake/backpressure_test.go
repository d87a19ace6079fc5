package intake_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/apperr"
	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
	"github.com/whistle-civic/whistle/pkg/grpcserver/grpctest"
	"github.com/whistle-civic/whistle/pkg/natstest"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/services/intake"
)

func TestBackpressureDecision(t *testing.T) {
	t.Parallel()
	small := intake.Backpressure{MaxOutbox: 10, MaxOutboxAge: time.Minute, MaxLag: 100, Consumer: "dispatch", RetryAfter: 1500 * time.Millisecond}
	tests := []struct {
		name  string
		cfg   intake.Backpressure
		b     intake.Backlog
		want  []string // phrases of the refusal; none: accepted
		retry time.Duration
	}{
		{name: "nothing read yet", cfg: small, b: intake.Backlog{Outbox: 1e6, OutboxAge: time.Hour, Lag: 1e6}},
		{name: "under every limit", cfg: small,
			b: intake.Backlog{Outbox: 9, OutboxAge: 59 * time.Second, OutboxKnown: true, Lag: 99, LagKnown: true}},
		{name: "at every limit", cfg: small,
			b: intake.Backlog{Outbox: 10, OutboxAge: time.Minute, OutboxKnown: true, Lag: 100, LagKnown: true}},
		{name: "outbox over", cfg: small, b: intake.Backlog{Outbox: 11, OutboxKnown: true},
			want: []string{"11 events wait unsent in the outbox, 1 over the limit of 10", "retry in 2 s"}, retry: 1500 * time.Millisecond},
		{name: "oldest unsent too old", cfg: small, b: intake.Backlog{Outbox: 1, OutboxAge: 100 * time.Second, OutboxKnown: true},
			want: []string{"the oldest unsent event has waited 1m40s, 40s over the limit of 1m0s"}, retry: 1500 * time.Millisecond},
		{name: "consumer lag over", cfg: small, b: intake.Backlog{Lag: 150, LagKnown: true},
			want:  []string{`consumer "dispatch" has 150 reported events not yet delivered or acknowledged, 50 over the limit of 100`},
			retry: 1500 * time.Millisecond},
		{name: "lag not known (NATS down)", cfg: small, b: intake.Backlog{OutboxKnown: true, Lag: 1e6}},
		{name: "everything over", cfg: small,
			b: intake.Backlog{Outbox: 20, OutboxAge: 2 * time.Minute, OutboxKnown: true, Lag: 101, LagKnown: true},
			want: []string{"20 events wait unsent in the outbox, 10 over the limit of 10; the oldest unsent event has waited 2m0s, 1m0s over the limit of 1m0s; " +
				`consumer "dispatch" has 101 reported events not yet delivered or acknowledged, 1 over the limit of 100; retry in 2 s`},
			retry: 1500 * time.Millisecond},
		{name: "defaults: at the limits", b: intake.Backlog{Outbox: 10000, OutboxAge: 30 * time.Minute, OutboxKnown: true, Lag: 20000, LagKnown: true}},
		{name: "defaults: outbox over", b: intake.Backlog{Outbox: 10001, OutboxKnown: true},
			want: []string{"10001 events wait unsent in the outbox, 1 over the limit of 10000", "retry in 5 s"}, retry: 5 * time.Second},
		{name: "defaults: age over", b: intake.Backlog{OutboxAge: 30*time.Minute + time.Second, OutboxKnown: true},
			want: []string{"waited 30m1s, 1s over the limit of 30m0s"}, retry: 5 * time.Second},
		{name: "defaults: lag over", b: intake.Backlog{Lag: 20001, LagKnown: true},
			want: []string{`consumer "dispatch" has 20001`, "1 over the limit of 20000"}, retry: 5 * time.Second},
		{name: "other consumer", cfg: intake.Backpressure{Consumer: "dispatch-x"}, b: intake.Backlog{Lag: 20001, LagKnown: true},
			want: []string{`consumer "dispatch-x"`}, retry: 5 * time.Second},
		{name: "negative retry hint is the default", cfg: intake.Backpressure{RetryAfter: -time.Second}, b: intake.Backlog{Outbox: 10001, OutboxKnown: true},
			want: []string{"retry in 5 s"}, retry: 5 * time.Second},
		{name: "limits off", cfg: intake.Backpressure{MaxOutbox: -1, MaxOutboxAge: -1, MaxLag: -1},
			b: intake.Backlog{Outbox: 1e9, OutboxAge: 1e6 * time.Hour, OutboxKnown: true, Lag: 1e12, LagKnown: true}},
		{name: "outbox limit off, age still on", cfg: intake.Backpressure{MaxOutbox: -1},
			b: intake.Backlog{Outbox: 1e9, OutboxAge: time.Hour, OutboxKnown: true}, want: []string{"waited 1h0m0s"}, retry: 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := intake.Refusal(tt.cfg, tt.b)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, intake.ErrBusy) || apperr.KindOf(err) != apperr.ResourceExhausted {
				t.Fatalf("got %v, want ErrBusy (ResourceExhausted)", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q\ndoes not say %q", err, w)
				}
			}
			if d, ok := apperr.RetryAfterOf(err); !ok || d != tt.retry {
				t.Errorf("retry hint %v (%v), want %v", d, ok, tt.retry)
			}
		})
	}
}

func TestBackpressureReadings(t *testing.T) {
	t.Parallel()
	cfg := intake.Backpressure{MaxOutbox: 10, MaxLag: 10}
	var outbox int
	var outboxErr, lagErr error
	var lag uint64
	refresh, check := intake.Pressure(t, cfg,
		func(context.Context) (int, time.Duration, error) { return outbox, 0, outboxErr },
		func(context.Context) (uint64, error) { return lag, lagErr })
	ctx := context.Background()
	steps := []struct {
		name   string
		set    func()
		reason string // "": accepted
	}{
		{"nothing read yet", func() {}, ""},
		{"lag over", func() { lag = 11 }, `consumer "dispatch" has 11`},
		{"JetStream cannot be asked: lag not applied", func() { lag, lagErr = 11, errors.New("nats: timeout") }, ""},
		{"outbox over while JetStream is down", func() { outbox = 11 }, "11 events wait unsent"},
		{"outbox cannot be read: the last reading stands", func() { outbox, outboxErr = 0, errors.New("database down") }, "11 events wait unsent"},
		{"both read again, both fine", func() { outbox, outboxErr, lag, lagErr = 3, nil, 10, nil }, ""},
		{"JetStream answers again: lag applied", func() { lag = 12 }, `consumer "dispatch" has 12`},
	}
	for _, s := range steps {
		if s.name != "nothing read yet" {
			s.set()
			refresh(ctx)
		}
		err := check()
		switch {
		case s.reason == "" && err != nil:
			t.Fatalf("%s: refused: %v", s.name, err)
		case s.reason != "" && (err == nil || !strings.Contains(err.Error(), s.reason)):
			t.Fatalf("%s: got %v, want a refusal saying %q", s.name, err, s.reason)
		}
	}
}

// newBusyFixture is newFixture with the given backpressure, on env's JetStream (nil: a new one).
func newBusyFixture(t *testing.T, bp intake.Backpressure, env *natstest.Env) *fixture {
	t.Helper()
	deps := platformtest.Deps(t, intake.Name, intake.Migrations(), env, clock.NewFake(start))
	svc := intake.New(deps, intake.Config{City: "HH", Backpressure: bp})
	conn := grpctest.Serve(t, grpcserver.Options{Log: deps.Log, Telemetry: deps.Telemetry}, svc.Register)
	return &fixture{deps: deps, svc: svc, client: whistlev1.NewIntakeServiceClient(conn)}
}

// run starts the service's relay, consumers and backpressure readings until the test ends.
func (f *fixture) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// poll calls try every 10 ms until it returns true, failing the test after 20 s.
func poll(t *testing.T, what string, try func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !try() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		<-tick.C
	}
}

// refused checks that err is a refusal for being busy that says reason and
// carries a RetryInfo detail of retry.
func refused(t *testing.T, err error, reason string, retry time.Duration) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), reason) || !strings.Contains(st.Message(), "intake is busy") {
		t.Fatalf("got %v, want ResourceExhausted saying %q", err, reason)
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			if got := ri.GetRetryDelay().AsDuration(); got != retry {
				t.Fatalf("RetryInfo delay %v, want %v", got, retry)
			}
			return
		}
	}
	t.Fatalf("refusal %v has no RetryInfo detail (details %v)", err, st.Details())
}

func TestBackpressureRefusesWhileOutboxIsFull(t *testing.T) {
	t.Parallel()
	f := newBusyFixture(t, intake.Backpressure{MaxOutbox: 3, MaxLag: -1, Every: 10 * time.Millisecond, RetryAfter: 2 * time.Second}, nil)
	ctx := context.Background()
	// Run is not started: no relay, so every report stays in the outbox.
	var first *whistlev1.ReportResponse
	for i := range 4 {
		r, err := f.client.Report(ctx, validReport(fmt.Sprint("full-", i)))
		if err != nil {
			t.Fatalf("report %d: %v", i, err)
		}
		if i == 0 {
			first = r
		}
	}
	intake.RefreshBackpressure(ctx, f.svc)
	_, err := f.client.Report(ctx, validReport("full-new"))
	refused(t, err, "4 events wait unsent in the outbox, 1 over the limit of 3; retry in 2 s", 2*time.Second)
	again, err := f.client.Report(ctx, validReport("full-0"))
	if err != nil || again.GetCreated() || !proto.Equal(again.GetTicket(), first.GetTicket()) {
		t.Fatalf("retry of an accepted report while busy: %v, %v; want the first ticket", again, err)
	}
	if n := f.count(t, "tickets"); n != 4 {
		t.Fatalf("%d tickets, want 4: a refused report recorded something", n)
	}
	// The relay drains the outbox; the refused report goes through on a retry.
	f.run(t)
	poll(t, "the refused report to be accepted once the outbox drains", func() bool {
		r, err := f.client.Report(ctx, validReport("full-new"))
		if status.Code(err) == codes.ResourceExhausted {
			return false
		}
		if err != nil || !r.GetCreated() {
			t.Fatalf("report after the outbox drained: %v, %v", r, err)
		}
		return true
	})
	if n := f.count(t, "outbox WHERE sent_at IS NULL"); n > 1 {
		t.Fatalf("%d unsent events after the relay drained the outbox", n)
	}
}

func TestBackpressureRefusesWhileOldestUnsentIsOld(t *testing.T) {
	t.Parallel()
	f := newBusyFixture(t, intake.Backpressure{MaxOutbox: -1, MaxOutboxAge: time.Millisecond, MaxLag: -1}, nil)
	ctx := context.Background()
	if _, err := f.client.Report(ctx, validReport("old-0")); err != nil {
		t.Fatal(err)
	}
	// The relay is not running; the event's age, by the database's clock, soon passes 1 ms.
	key := 0
	poll(t, "a refusal for the unsent event's age", func() bool {
		intake.RefreshBackpressure(ctx, f.svc)
		key++
		_, err := f.client.Report(ctx, validReport(fmt.Sprint("old-", key)))
		return err != nil
	})
	intake.RefreshBackpressure(ctx, f.svc)
	_, err := f.client.Report(ctx, validReport("old-new"))
	refused(t, err, "the oldest unsent event has waited", 5*time.Second)
}

// dispatchConsumer creates dispatch's durable consumer of reported events on
// the fixture's stream, as dispatch would, without consuming from it.
func dispatchConsumer(t *testing.T, f *fixture) jetstream.Consumer {
	t.Helper()
	c, err := f.deps.Bus.JetStream().CreateOrUpdateConsumer(context.Background(), f.deps.Bus.Stream(), jetstream.ConsumerConfig{
		Durable: "dispatch", FilterSubject: f.deps.Bus.Subject(events.Reported), AckPolicy: jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBackpressureRefusesWhileConsumerLags(t *testing.T) {
	t.Parallel()
	f := newBusyFixture(t, intake.Backpressure{MaxLag: 2, Every: 10 * time.Millisecond, RetryAfter: time.Second}, nil)
	ctx := context.Background()
	c := dispatchConsumer(t, f)
	f.run(t)
	first, err := f.client.Report(ctx, validReport("lag-0"))
	if err != nil {
		t.Fatal(err)
	}
	// Fewer than three events published: the lag cannot exceed 2 yet.
	for i := 1; i < 3; i++ {
		if _, err := f.client.Report(ctx, validReport(fmt.Sprint("lag-", i))); err != nil {
			t.Fatalf("report %d: %v", i, err)
		}
	}
	// Once the relay has published them and the lag has been read, new
	// reports are refused (those made before are accepted, each with a key
	// of its own).
	accepted := 3
	poll(t, "a refusal for the consumer's lag", func() bool {
		_, err := f.client.Report(ctx, validReport(fmt.Sprint("lag-", accepted)))
		if err == nil {
			accepted++
			return false
		}
		refused(t, err, `consumer "dispatch" has `, time.Second)
		return true
	})
	_, err = f.client.Report(ctx, validReport("lag-new"))
	refused(t, err, "retry in 1 s", time.Second)
	m := regexp.MustCompile(`consumer "dispatch" has (\d+) reported events not yet delivered or acknowledged, (\d+) over the limit of 2;`).
		FindStringSubmatch(status.Convert(err).Message())
	if m == nil {
		t.Fatalf("refusal %v does not say by how much the consumer lags", err)
	}
	lag, _ := strconv.Atoi(m[1])
	over, _ := strconv.Atoi(m[2])
	if lag < 3 || lag > accepted || over != lag-2 {
		t.Fatalf("refusal says the lag is %d, %d over 2; %d reports were accepted", lag, over, accepted)
	}
	again, err := f.client.Report(ctx, validReport("lag-0"))
	if err != nil || again.GetCreated() || !proto.Equal(again.GetTicket(), first.GetTicket()) {
		t.Fatalf("retry of an accepted report while busy: %v, %v; want the first ticket", again, err)
	}
	// Dispatch catches up: the refused report goes through on a retry.
	poll(t, "the refused report to be accepted once dispatch caught up", func() bool {
		batch, err := c.FetchNoWait(100)
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatal(err)
			}
		}
		r, err := f.client.Report(ctx, validReport("lag-new"))
		if status.Code(err) == codes.ResourceExhausted {
			return false
		}
		if err != nil || !r.GetCreated() {
			t.Fatalf("report after dispatch caught up: %v, %v", r, err)
		}
		return true
	})
}

func TestBackpressureAcceptsWhileNATSIsDownUntilOutboxIsFull(t *testing.T) {
	t.Parallel()
	env := natstest.New(t)
	if env.Server == nil {
		t.Skip("needs the in-process NATS server, to stop it (WHISTLE_TEST_NATS_URL is set)")
	}
	f := newBusyFixture(t, intake.Backpressure{MaxOutbox: 5, MaxLag: 1, Every: 10 * time.Millisecond}, env)
	ctx := context.Background()
	dispatchConsumer(t, f)
	f.run(t)
	key := 0
	report := func() error {
		key++
		_, err := f.client.Report(ctx, validReport(fmt.Sprint("down-", key)))
		if err != nil && status.Code(err) != codes.ResourceExhausted {
			t.Fatal(err)
		}
		return err
	}
	poll(t, "a refusal for the consumer's lag", func() bool {
		err := report()
		return err != nil && strings.Contains(err.Error(), `consumer "dispatch" has `)
	})
	refused(t, report(), `consumer "dispatch" has `, 5*time.Second)
	env.Server.Shutdown()
	// JetStream cannot be asked any more: the lag limit no longer applies,
	// and whistles are accepted into the outbox until it is full.
	poll(t, "a report accepted while NATS is down", func() bool { return report() == nil })
	poll(t, "a refusal for the outbox while NATS is down", func() bool {
		err := report()
		if err == nil {
			return false
		}
		refused(t, err, "events wait unsent in the outbox", 5*time.Second)
		if strings.Contains(err.Error(), "consumer") {
			t.Fatalf("the lag limit is applied while NATS is down: %v", err)
		}
		return true
	})
}
