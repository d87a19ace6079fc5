package deadletter_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/deadletter"
	"github.com/whistle-civic/whistle/pkg/events"
	"github.com/whistle-civic/whistle/pkg/eventually"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
	"github.com/whistle-civic/whistle/pkg/grpcserver/grpctest"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/natstest"
	"github.com/whistle-civic/whistle/pkg/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// lockedBuffer collects log lines written from the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// env is a JetStream of the test's own, a consumer that fails until it is
// healthy, and the DeadLetterService over gRPC.
type env struct {
	bus     *bus.Bus
	client  whistlev1.DeadLetterServiceClient
	healthy atomic.Bool
	applied chan string // event ids the consumer acked
	log     *lockedBuffer
}

// start runs the DeadLetterService of a process running intake alone, on
// a JetStream that admits only the services' users.
func start(t *testing.T) *env {
	t.Helper()
	nats := natstest.NewSecured(t)
	e := &env{bus: nats.ConnectAs(t, events.Intake), applied: make(chan string, 100), log: &lockedBuffer{}}
	log := slog.New(slog.NewTextHandler(e.log, nil))
	intake := deadletter.Local{Name: events.Intake, Bus: e.bus, DB: pgtest.Open(t, events.Intake, nil)}
	conn := grpctest.Serve(t, grpcserver.Options{}, func(r grpc.ServiceRegistrar) {
		deadletter.RegisterServer(r, deadletter.Options{Services: []deadletter.Local{intake}, Log: log})
	})
	e.client = whistlev1.NewDeadLetterServiceClient(conn)
	e.consume(t, bus.ConsumerConfig{Name: "svc", EventTypes: []string{events.Reported}, MaxDeliveries: 1})
	return e
}

// consume runs a consumer that dead-letters undecodable events at once and
// fails the others until e is healthy, until the test ends.
func (e *env) consume(t *testing.T, cfg bus.ConsumerConfig) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- e.bus.Consume(ctx, cfg, func(_ context.Context, m *bus.Message) error {
			ev, err := events.Decode(m.Data)
			if err != nil {
				return bus.Poison(err)
			}
			if !e.healthy.Load() {
				return errors.New("read model locked")
			}
			e.applied <- ev.GetEventId()
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Consume: %v", err)
		}
	})
}

// publish publishes a reported event and returns it.
func (e *env) publish(t *testing.T) *whistlev1.Event {
	t.Helper()
	ev := events.MustNew(events.Meta{TicketID: ids.New(), Version: 1, Producer: "test", OccurredAt: time.Now()},
		&whistlev1.TicketReported{})
	data, err := proto.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	msg := &nats.Msg{Subject: e.bus.Subject(events.Reported), Data: data}
	if _, err := e.bus.JetStream().PublishMsg(context.Background(), msg, jetstream.WithMsgID(ev.GetEventId())); err != nil {
		t.Fatal(err)
	}
	return ev
}

// list returns a page of dead letters.
func (e *env) list(t *testing.T, req *whistlev1.ListDeadLettersRequest) *whistlev1.ListDeadLettersResponse {
	t.Helper()
	resp, err := e.client.ListDeadLetters(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

var admin = &whistlev1.Actor{Id: "admin-1", OrgUnitId: "hh"}

func TestReplayOverGRPC(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := context.Background()
	ev := e.publish(t)
	var dl *whistlev1.DeadLetter
	eventually.True(t, "a dead letter", func() bool {
		resp := e.list(t, &whistlev1.ListDeadLettersRequest{})
		if len(resp.GetDeadLetters()) == 1 {
			dl = resp.GetDeadLetters()[0]
		}
		return dl != nil
	})
	if dl.GetSeq() == 0 || dl.GetConsumer() != "svc" || dl.GetSubject() != e.bus.Subject(events.Reported) ||
		dl.GetEventType() != events.Reported || dl.GetError() != "read model locked" || dl.GetDeliveries() != 1 ||
		dl.GetEventId() != ev.GetEventId() || dl.GetTicketId() != ev.GetTicketId() ||
		time.Since(dl.GetDeadLetteredAt().AsTime()) > time.Minute {
		t.Fatalf("dead letter %v", dl)
	}

	e.healthy.Store(true)
	resp, err := e.client.ReplayDeadLetter(ctx, &whistlev1.ReplayDeadLetterRequest{Seq: dl.GetSeq(), Actor: admin})
	if err != nil || !proto.Equal(resp.GetDeadLetter(), dl) {
		t.Fatalf("ReplayDeadLetter = %v, %v; want %v", resp, err, dl)
	}
	select {
	case id := <-e.applied:
		if id != ev.GetEventId() {
			t.Fatalf("applied %s, want %s", id, ev.GetEventId())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the replayed event never reached the consumer")
	}
	if n := len(e.list(t, &whistlev1.ListDeadLettersRequest{}).GetDeadLetters()); n != 0 {
		t.Fatalf("%d dead letters after the replay", n)
	}
	if log := e.log.String(); !strings.Contains(log, `msg="dead letter replayed"`) || !strings.Contains(log, "actor=admin-1") ||
		!strings.Contains(log, "org_unit=hh") || !strings.Contains(log, "event_id="+ev.GetEventId()) {
		t.Errorf("log:\n%s", log)
	}

	_, err = e.client.ReplayDeadLetter(ctx, &whistlev1.ReplayDeadLetterRequest{Seq: dl.GetSeq(), Actor: admin})
	// A NotFound reads exactly as its error, whatever it was wrapped in.
	if st := status.Convert(err); st.Code() != codes.NotFound || st.Message() != deadletter.ErrNotFound.Error() ||
		!strings.Contains(st.Message(), "whistlectl dead-letters list") {
		t.Fatalf("second replay: %v, want NotFound saying what to do", err)
	}
}

func TestDiscardOverGRPC(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := context.Background()
	e.publish(t)
	if _, err := e.bus.JetStream().Publish(ctx, e.bus.Subject(events.Reported), []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	var dls []*whistlev1.DeadLetter
	eventually.True(t, "two dead letters", func() bool {
		dls = e.list(t, &whistlev1.ListDeadLettersRequest{}).GetDeadLetters()
		return len(dls) == 2
	})
	garbage := dls[0]
	if garbage.GetEventId() != "" {
		garbage = dls[1]
	}
	if garbage.GetEventId() != "" || garbage.GetTicketId() != "" || !strings.HasPrefix(garbage.GetError(), "poison event: decode event") {
		t.Fatalf("undecodable event's dead letter %v", garbage)
	}
	resp, err := e.client.DiscardDeadLetter(ctx, &whistlev1.DiscardDeadLetterRequest{Seq: garbage.GetSeq(), Actor: admin,
		Reason: "test traffic"})
	if err != nil || resp.GetDeadLetter().GetSeq() != garbage.GetSeq() {
		t.Fatalf("DiscardDeadLetter = %v, %v", resp, err)
	}
	left := e.list(t, &whistlev1.ListDeadLettersRequest{}).GetDeadLetters()
	if len(left) != 1 || left[0].GetSeq() == garbage.GetSeq() {
		t.Fatalf("dead letters after the discard: %v", left)
	}
	if log := e.log.String(); !strings.Contains(log, `msg="dead letter discarded"`) || !strings.Contains(log, `reason="test traffic"`) {
		t.Errorf("log:\n%s", log)
	}
	for name, call := range map[string]func() error{
		"discard again": func() error {
			_, err := e.client.DiscardDeadLetter(ctx, &whistlev1.DiscardDeadLetterRequest{Seq: garbage.GetSeq(), Actor: admin, Reason: "x"})
			return err
		},
		"replay discarded": func() error {
			_, err := e.client.ReplayDeadLetter(ctx, &whistlev1.ReplayDeadLetterRequest{Seq: garbage.GetSeq(), Actor: admin})
			return err
		},
		"replay unknown": func() error {
			_, err := e.client.ReplayDeadLetter(ctx, &whistlev1.ReplayDeadLetterRequest{Seq: 4711, Actor: admin})
			return err
		},
	} {
		if err := call(); status.Code(err) != codes.NotFound {
			t.Errorf("%s: %v, want NotFound", name, err)
		}
	}
}

func TestListPagesAndFiltersOverGRPC(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := context.Background()
	e.consume(t, bus.ConsumerConfig{Name: "other", EventTypes: []string{events.Reported}, MaxDeliveries: 1})
	for range 3 {
		e.publish(t)
	}
	eventually.True(t, "six dead letters", func() bool {
		return len(e.list(t, &whistlev1.ListDeadLettersRequest{PageSize: 500}).GetDeadLetters()) == 6
	})
	var seqs []uint64
	pages := 0
	for req := (&whistlev1.ListDeadLettersRequest{PageSize: 4}); ; pages++ {
		resp := e.list(t, req)
		for _, dl := range resp.GetDeadLetters() {
			seqs = append(seqs, dl.GetSeq())
		}
		if resp.GetNextAfterSeq() == 0 {
			break
		}
		if resp.GetNextAfterSeq() != seqs[len(seqs)-1] {
			t.Fatalf("next_after_seq %d, last seq listed %d", resp.GetNextAfterSeq(), seqs[len(seqs)-1])
		}
		req.AfterSeq = resp.GetNextAfterSeq()
	}
	if len(seqs) != 6 || pages != 1 {
		t.Fatalf("listed %v in %d pages; want 6 in 2", seqs, pages+1)
	}
	// Exactly one page full: no next page.
	if resp := e.list(t, &whistlev1.ListDeadLettersRequest{PageSize: 6}); len(resp.GetDeadLetters()) != 6 || resp.GetNextAfterSeq() != 0 {
		t.Fatalf("page of 6: %d, next %d", len(resp.GetDeadLetters()), resp.GetNextAfterSeq())
	}
	resp := e.list(t, &whistlev1.ListDeadLettersRequest{Consumer: "other"})
	if len(resp.GetDeadLetters()) != 3 || resp.GetNextAfterSeq() != 0 {
		t.Fatalf("other's dead letters: %v", resp)
	}
	for _, dl := range resp.GetDeadLetters() {
		if dl.GetConsumer() != "other" {
			t.Errorf("other's dead letter %v", dl)
		}
	}
	if n := len(e.list(t, &whistlev1.ListDeadLettersRequest{Consumer: "nobody"}).GetDeadLetters()); n != 0 {
		t.Fatalf("%d dead letters of an unknown consumer", n)
	}

	for name, call := range map[string]func() error{
		"page too large": func() error {
			_, err := e.client.ListDeadLetters(ctx, &whistlev1.ListDeadLettersRequest{PageSize: 501})
			return err
		},
		"negative page": func() error {
			_, err := e.client.ListDeadLetters(ctx, &whistlev1.ListDeadLettersRequest{PageSize: -1})
			return err
		},
		"wildcard consumer": func() error {
			_, err := e.client.ListDeadLetters(ctx, &whistlev1.ListDeadLettersRequest{Consumer: "svc.>"})
			return err
		},
		"replay seq 0": func() error {
			_, err := e.client.ReplayDeadLetter(ctx, &whistlev1.ReplayDeadLetterRequest{Actor: admin})
			return err
		},
		"replay without actor": func() error {
			_, err := e.client.ReplayDeadLetter(ctx, &whistlev1.ReplayDeadLetterRequest{Seq: seqs[0]})
			return err
		},
		"discard without reason": func() error {
			_, err := e.client.DiscardDeadLetter(ctx, &whistlev1.DiscardDeadLetterRequest{Seq: seqs[0], Actor: admin})
			return err
		},
	} {
		if err := call(); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
	if n := len(e.list(t, &whistlev1.ListDeadLettersRequest{}).GetDeadLetters()); n != 6 {
		t.Fatalf("%d dead letters after refused calls; want all 6", n)
	}
}

func TestNotReplayableOverGRPC(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := context.Background()
	ack, err := e.bus.JetStream().Publish(ctx, e.bus.DLQSubject("svc"), []byte("dead"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client.ReplayDeadLetter(ctx, &whistlev1.ReplayDeadLetterRequest{Seq: ack.Sequence, Actor: admin})
	if st := status.Convert(err); st.Code() != codes.FailedPrecondition || !strings.Contains(st.Message(), "discard it instead") {
		t.Fatalf("replay of a dead letter without a subject: %v, want FailedPrecondition", err)
	}
}
