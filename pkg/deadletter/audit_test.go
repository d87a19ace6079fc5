package deadletter_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/audit"
	"github.com/whistle-civic/whistle/pkg/auth"
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

// process is a process running some services, each with its own NATS
// user and schema, serving the DeadLetterService and the AuditService of
// those schemas to an authenticated administrator.
type process struct {
	nats   *natstest.Env
	buses  map[string]*bus.Bus
	dl     whistlev1.DeadLetterServiceClient
	audit  whistlev1.AuditServiceClient
	ctx    context.Context // carries the administrator's token
	admin  string          // the token's subject
	locals []deadletter.Local
}

// processOptions shape a process.
type processOptions struct {
	timeout time.Duration     // of a replay or discard; 0: the default
	as      map[string]string // NATS user a service connects as; default its own
}

// runProcess serves the services named, in that order, on env, in a
// database of its own.
func runProcess(t *testing.T, env *natstest.Env, o processOptions, names ...string) *process {
	t.Helper()
	p := &process{nats: env, buses: map[string]*bus.Bus{}, admin: "ops-admin-1"}
	dbURL := pgtest.NewDatabase(t)
	for _, name := range names {
		user := name
		if u, ok := o.as[name]; ok {
			user = u
		}
		p.buses[name] = env.ConnectAs(t, user)
		p.locals = append(p.locals, deadletter.Local{Name: name, Bus: p.buses[name], DB: pgtest.OpenIn(t, dbURL, name, nil)})
	}
	keys := grpctest.NewKeys(t)
	p.ctx = keys.As(context.Background(), p.admin, auth.RoleAdmin, "hh")
	conn := grpctest.Serve(t, grpcserver.Options{Auth: keys.Authenticator}, func(r grpc.ServiceRegistrar) {
		deadletter.RegisterServer(r, deadletter.Options{Services: p.locals, Timeout: o.timeout})
		audit.RegisterServer(r, audit.NewReader(p.locals[0].DB.Pool, names...))
	})
	p.dl, p.audit = whistlev1.NewDeadLetterServiceClient(conn), whistlev1.NewAuditServiceClient(conn)
	return p
}

// deadLetter has a consumer of the event type give up on an event its
// producer publishes, and returns the dead letter and the event.
func (p *process) deadLetter(t *testing.T, eventType string) (*whistlev1.DeadLetter, *whistlev1.Event) {
	t.Helper()
	var body proto.Message = &whistlev1.TicketReported{}
	meta := events.Meta{TicketID: ids.New(), Version: 1, Producer: "test", OccurredAt: time.Now()}
	if eventType == events.OrgTree {
		body, meta.TicketID = &whistlev1.OrgTree{}, ""
	}
	ev := events.MustNew(meta, body)
	data, err := proto.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	producer := p.nats.ConnectAs(t, events.Producers(eventType)[0])
	msg := &nats.Msg{Subject: producer.Subject(eventType), Data: data}
	if _, err := producer.JetStream().PublishMsg(context.Background(), msg, jetstream.WithMsgID(ev.GetEventId())); err != nil {
		t.Fatal(err)
	}
	consumer := "fails-" + eventType
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- p.buses[p.locals[0].Name].Consume(ctx, bus.ConsumerConfig{Name: consumer, EventTypes: []string{eventType}, MaxDeliveries: 1},
			func(context.Context, *bus.Message) error { return bus.Poison(errFails) })
	}()
	t.Cleanup(func() { cancel(); <-done })
	var dl *whistlev1.DeadLetter
	eventually.True(t, "the dead letter of "+eventType, func() bool {
		resp, err := p.dl.ListDeadLetters(p.ctx, &whistlev1.ListDeadLettersRequest{Consumer: consumer})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetDeadLetters()) == 1 {
			dl = resp.GetDeadLetters()[0]
		}
		return dl != nil
	})
	return dl, ev
}

var errFails = errors.New("read model locked")

// auditRows lists the audit rows of an action.
func (p *process) auditRows(t *testing.T, action string) []*whistlev1.AuditEntry {
	t.Helper()
	resp, err := p.audit.ListAudit(p.ctx, &whistlev1.ListAuditRequest{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetEntries()
}

// held reports whether dead letter seq is still held.
func (p *process) held(t *testing.T, seq uint64) bool {
	t.Helper()
	resp, err := p.dl.ListDeadLetters(p.ctx, &whistlev1.ListDeadLettersRequest{AfterSeq: seq - 1, PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	return len(resp.GetDeadLetters()) == 1 && resp.GetDeadLetters()[0].GetSeq() == seq
}

var opsActor = &whistlev1.Actor{Id: "staff-42", OrgUnitId: "hh"}

// A replay goes through the connection of the service that emits the
// event's type (the only one the NATS servers let publish it) and is
// audited, once, in that service's schema.
func TestReplayGoesThroughTheProducerAndIsAudited(t *testing.T) {
	t.Parallel()
	p := runProcess(t, natstest.NewSecured(t), processOptions{}, events.Monitoring, events.Intake, events.Dispatch)
	for i, typ := range []string{events.Reported, events.OrgTree} {
		dl, ev := p.deadLetter(t, typ)
		if _, err := p.dl.ReplayDeadLetter(p.ctx, &whistlev1.ReplayDeadLetterRequest{Seq: dl.GetSeq(), Actor: opsActor}); err != nil {
			t.Fatalf("replay of a %s dead letter: %v", typ, err)
		}
		rows := p.auditRows(t, deadletter.ActionReplay)
		if len(rows) != i+1 {
			t.Fatalf("%d replay rows after %d replays", len(rows), i+1)
		}
		r := rows[0] // newest first
		if r.GetService() != events.Producers(typ)[0] || r.GetSubject() != p.admin || r.GetEventId() != ev.GetEventId() ||
			r.GetTicketId() != ev.GetTicketId() || !strings.Contains(r.GetDetail(), "seq "+strconv.FormatUint(dl.GetSeq(), 10)) ||
			!strings.Contains(r.GetDetail(), "consumer fails-"+typ) || !strings.Contains(r.GetDetail(), "staff-42") {
			t.Errorf("audit row of the %s replay: %v", typ, r)
		}
		if p.held(t, dl.GetSeq()) {
			t.Errorf("the %s dead letter is still held after its replay", typ)
		}
	}
}

func TestDiscardIsAuditedAndAFailedOneIsNot(t *testing.T) {
	t.Parallel()
	p := runProcess(t, natstest.NewSecured(t), processOptions{}, events.Monitoring, events.Intake)
	dl, ev := p.deadLetter(t, events.Reported)
	req := &whistlev1.DiscardDeadLetterRequest{Seq: dl.GetSeq(), Actor: opsActor, Reason: "test traffic"}
	if _, err := p.dl.DiscardDeadLetter(p.ctx, req); err != nil {
		t.Fatal(err)
	}
	rows := p.auditRows(t, deadletter.ActionDiscard)
	if len(rows) != 1 || rows[0].GetService() != events.Monitoring || rows[0].GetEventId() != ev.GetEventId() ||
		rows[0].GetTicketId() != ev.GetTicketId() || !strings.Contains(rows[0].GetDetail(), "reason: test traffic") {
		t.Fatalf("audit rows of one discard: %v", rows)
	}
	// Discarded already, and never existed: nothing happens, nothing is audited.
	for _, seq := range []uint64{dl.GetSeq(), 4711} {
		_, err := p.dl.DiscardDeadLetter(p.ctx, &whistlev1.DiscardDeadLetterRequest{Seq: seq, Actor: opsActor, Reason: "x"})
		if status.Code(err) != codes.NotFound {
			t.Fatalf("discard of %d: %v, want NotFound", seq, err)
		}
		_, err = p.dl.ReplayDeadLetter(p.ctx, &whistlev1.ReplayDeadLetterRequest{Seq: seq, Actor: opsActor})
		if status.Code(err) != codes.NotFound {
			t.Fatalf("replay of %d: %v, want NotFound", seq, err)
		}
	}
	if n, m := len(p.auditRows(t, deadletter.ActionDiscard)), len(p.auditRows(t, deadletter.ActionReplay)); n != 1 || m != 0 {
		t.Fatalf("after failed calls: %d discard rows (want 1), %d replay rows (want 0)", n, m)
	}
}

// When the JetStream operation fails after the audit row was written, the
// row is rolled back with it: here the process's "intake" connection is
// logged in as monitoring, which the servers do not let publish reported
// events.
func TestAFailedReplayLeavesNoAuditRow(t *testing.T) {
	t.Parallel()
	p := runProcess(t, natstest.NewWithUsers(t), processOptions{timeout: 2 * time.Second, as: map[string]string{events.Intake: events.Monitoring}},
		events.Monitoring, events.Intake)
	dl, _ := p.deadLetter(t, events.Reported)
	_, err := p.dl.ReplayDeadLetter(p.ctx, &whistlev1.ReplayDeadLetterRequest{Seq: dl.GetSeq(), Actor: opsActor})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("replay refused by the servers: %v, want Unavailable", err)
	}
	if rows := p.auditRows(t, deadletter.ActionReplay); len(rows) != 0 {
		t.Fatalf("audit rows of a replay that did not happen: %v", rows)
	}
	if !p.held(t, dl.GetSeq()) {
		t.Fatal("the dead letter of a failed replay is gone")
	}
}

// A process that does not run the event's producer refuses the replay and
// names the service to replay it through (`whistle serve`, one service a
// process).
func TestReplayOfAnotherServicesEventIsRefused(t *testing.T) {
	t.Parallel()
	p := runProcess(t, natstest.NewSecured(t), processOptions{}, events.Monitoring)
	dl, _ := p.deadLetter(t, events.Reported)
	_, err := p.dl.ReplayDeadLetter(p.ctx, &whistlev1.ReplayDeadLetterRequest{Seq: dl.GetSeq(), Actor: opsActor})
	if st := status.Convert(err); st.Code() != codes.FailedPrecondition || !strings.Contains(st.Message(), "only intake publishes") ||
		!strings.Contains(st.Message(), "replay it through the DeadLetterService of the service named") {
		t.Fatalf("replay of intake's event through monitoring: %v, want FailedPrecondition naming intake", err)
	}
	if rows := p.auditRows(t, deadletter.ActionReplay); len(rows) != 0 || !p.held(t, dl.GetSeq()) {
		t.Fatalf("a refused replay changed something: audit %v, held %v", rows, p.held(t, dl.GetSeq()))
	}
}
