// Package deadletter is the DeadLetterService: it lists the events the
// services' consumers gave up on (held in the dead-letter stream with the
// error, see pkg/bus), and replays or discards them once an administrator has
// dealt with the cause. The dead letters live in JetStream, which every
// service shares, so one server over any service's connection sees them all.
//
// A replay publishes the event again, which the NATS servers allow only to
// the service that emits events of its type (bus.PublishAllow): so it goes
// through that service's connection, and a process that does not run that
// service refuses it (FailedPrecondition, naming the service to ask).
// Every replay and discard is audited in the same transaction as the rest of
// its service's changes: the audit row is written, the JetStream operation
// done, and the row committed only if the operation succeeded.
package deadletter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/apperr"
	"github.com/whistle-civic/whistle/pkg/audit"
	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/policy"
	"github.com/whistle-civic/whistle/pkg/postgres"
)

// ServiceName is the DeadLetterService's full gRPC name, for health checks.
const ServiceName = "whistle.v1.DeadLetterService"

// The audit actions of the service.
const (
	ActionReplay  = "dead_letter.replay"
	ActionDiscard = "dead_letter.discard"
)

// The errors of the service.
var (
	// ErrNotFound: the sequence names no dead letter.
	ErrNotFound = apperr.New(apperr.NotFound, "no such dead letter: it was replayed or discarded already, or never "+
		"existed; list the dead letters (whistlectl dead-letters list) for the sequences held")
	// ErrNotReplayable: the dead letter does not say where its event was published.
	ErrNotReplayable = apperr.New(apperr.FailedPrecondition, "the dead letter names no original subject on the "+
		"events stream, so it cannot be replayed; discard it instead")
	// ErrOtherService: the event's type is published by a service this
	// process does not run, whose credentials alone may publish it.
	ErrOtherService = apperr.New(apperr.FailedPrecondition, "this process may not publish the dead letter's event: "+
		"replay it through the DeadLetterService of the service named, e.g. whistlectl --addr <that service's address> "+
		"dead-letters replay")
	// ErrUnavailable: JetStream did not answer.
	ErrUnavailable = apperr.New(apperr.Unavailable, "JetStream did not answer; retry shortly (a replay repeated "+
		"within two minutes is dropped as a duplicate, so retrying is safe)")
)

// defaultPageSize is the page size of a request that names none.
const defaultPageSize = 50

// Local is a service the process runs, whose NATS connection and schema the
// DeadLetterService acts through.
type Local struct {
	// Name is the service's name (events.Services). Required.
	Name string
	// Bus is its connection, logged in with its own NATS credentials. Required.
	Bus *bus.Bus
	// DB is its pool, bound to its schema: the audit rows of what is done
	// through this service go to that schema's audit table. Required.
	DB *postgres.DB
}

// Options configure the DeadLetterService.
type Options struct {
	// Services are the services the process runs; the first one lists the
	// dead letters and discards them, replays go through the service that
	// emits the event's type. At least one is required.
	Services []Local
	// Log receives one line per replay and discard. Default: discard.
	Log *slog.Logger
	// Timeout bounds a replay or discard, which finishes even when the
	// caller goes away: a replay published should also leave the dead
	// letters, and its audit row be committed. Default 15 s.
	Timeout time.Duration
}

// RegisterServer registers the DeadLetterService on r. Who may call it
// (administrators; monitors may list) is decided by the server's
// authorization policy, not here. It panics without a service: a
// programming error.
func RegisterServer(r grpc.ServiceRegistrar, o Options) {
	if len(o.Services) == 0 {
		panic("deadletter: RegisterServer needs at least one service")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	whistlev1.RegisterDeadLetterServiceServer(r, &grpcServer{o: o})
}

// grpcServer is the DeadLetterService API. Requests arrive validated against
// their proto annotations; errors are mapped to statuses by pkg/grpcserver.
type grpcServer struct {
	whistlev1.UnimplementedDeadLetterServiceServer
	o Options
}

// first is the service that lists and discards.
func (g *grpcServer) first() Local { return g.o.Services[0] }

// ListDeadLetters lists dead letters, oldest first, one page at a time.
func (g *grpcServer) ListDeadLetters(ctx context.Context, req *whistlev1.ListDeadLettersRequest) (*whistlev1.ListDeadLettersResponse, error) {
	size := int(req.GetPageSize())
	if size == 0 {
		size = defaultPageSize
	}
	dls, err := g.first().Bus.DeadLetters(ctx, req.GetConsumer(), req.GetAfterSeq(), size+1)
	if err != nil {
		return nil, kind(err, 0)
	}
	resp := &whistlev1.ListDeadLettersResponse{}
	if len(dls) > size {
		dls = dls[:size]
		resp.NextAfterSeq = dls[size-1].Seq
	}
	for _, dl := range dls {
		resp.DeadLetters = append(resp.DeadLetters, toProto(dl))
	}
	return resp, nil
}

// ReplayDeadLetter publishes a dead letter's event again on its original
// subject, through the connection of the service that emits its type, and
// removes it from the dead letters; audited in that service's schema.
func (g *grpcServer) ReplayDeadLetter(ctx context.Context, req *whistlev1.ReplayDeadLetterRequest) (*whistlev1.ReplayDeadLetterResponse, error) {
	if err := policy.ActingAs(ctx, req.GetActor().GetOrgUnitId()); err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.o.Timeout)
	defer cancel()
	seq := req.GetSeq()
	held, err := g.first().Bus.DeadLetter(sctx, seq)
	if err != nil {
		return nil, kind(err, seq)
	}
	via, err := g.producer(held)
	if err != nil {
		return nil, err
	}
	dl, err := settle(sctx, via, entry(ActionReplay, held, req.GetActor(), ""), func(ctx context.Context) (bus.DeadLetter, error) {
		return via.Bus.ReplayDeadLetter(ctx, seq)
	})
	if err != nil {
		return nil, kind(err, seq)
	}
	g.o.Log.InfoContext(ctx, "dead letter replayed", append(logAttrs(ctx, dl, req.GetActor()), "via", via.Name)...)
	return &whistlev1.ReplayDeadLetterResponse{DeadLetter: toProto(dl)}, nil
}

// producer is the service of the process that may publish dl's event again.
func (g *grpcServer) producer(dl bus.DeadLetter) (Local, error) {
	if dl.Subject == "" || dl.EventType == "" {
		return Local{}, fmt.Errorf("dead letter %d: %w", dl.Seq, ErrNotReplayable)
	}
	producers := events.Producers(dl.EventType)
	for _, svc := range g.o.Services {
		if events.MayProduce(svc.Name, dl.EventType) {
			return svc, nil
		}
	}
	if len(producers) == 0 {
		return Local{}, fmt.Errorf("dead letter %d: no service emits %q events, so none may publish it again: %w",
			dl.Seq, dl.EventType, ErrNotReplayable)
	}
	return Local{}, fmt.Errorf("dead letter %d holds a %s event, which only %s publishes: %w",
		dl.Seq, dl.EventType, strings.Join(producers, " or "), ErrOtherService)
}

// DiscardDeadLetter removes a dead letter without replaying it; audited in
// the schema of the process's first service.
func (g *grpcServer) DiscardDeadLetter(ctx context.Context, req *whistlev1.DiscardDeadLetterRequest) (*whistlev1.DiscardDeadLetterResponse, error) {
	if err := policy.ActingAs(ctx, req.GetActor().GetOrgUnitId()); err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.o.Timeout)
	defer cancel()
	seq, via := req.GetSeq(), g.first()
	held, err := via.Bus.DeadLetter(sctx, seq)
	if err != nil {
		return nil, kind(err, seq)
	}
	dl, err := settle(sctx, via, entry(ActionDiscard, held, req.GetActor(), req.GetReason()), func(ctx context.Context) (bus.DeadLetter, error) {
		return via.Bus.DiscardDeadLetter(ctx, seq)
	})
	if err != nil {
		return nil, kind(err, seq)
	}
	g.o.Log.InfoContext(ctx, "dead letter discarded", append(logAttrs(ctx, dl, req.GetActor()), "reason", req.GetReason())...)
	return &whistlev1.DiscardDeadLetterResponse{DeadLetter: toProto(dl)}, nil
}

// settle does a JetStream operation on a dead letter in a transaction of
// via's schema that records e first: when the operation fails, the
// transaction rolls back and nothing is audited. Should the commit fail
// after the operation succeeded, the operation stands unaudited; the error
// says so (and the log line of the call records it).
func settle(ctx context.Context, via Local, e audit.Entry, op func(context.Context) (bus.DeadLetter, error)) (bus.DeadLetter, error) {
	var dl bus.DeadLetter
	done := false
	err := via.DB.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if err := audit.Record(ctx, tx, e); err != nil {
			return err
		}
		var err error
		dl, err = op(ctx)
		done = err == nil
		return err
	})
	if err != nil && done {
		return dl, fmt.Errorf("%s of dead letter %d done, but its audit row was not committed in %s: %w", e.Action, dl.Seq, via.Name, err)
	}
	return dl, err
}

// entry is the audit entry of settling dl as actor, for a reason (discards).
func entry(action string, dl bus.DeadLetter, actor *whistlev1.Actor, reason string) audit.Entry {
	detail := fmt.Sprintf("seq %d, consumer %s, subject %s, event type %s, actor %s of %s", dl.Seq, dl.Consumer, dl.Subject,
		dl.EventType, actor.GetId(), actor.GetOrgUnitId())
	if reason != "" {
		detail += ", reason: " + reason
	}
	return audit.Entry{Action: action, TicketID: dl.TicketID, EventID: dl.EventID, Detail: detail}
}

// logAttrs describe a settled dead letter and who settled it.
func logAttrs(ctx context.Context, dl bus.DeadLetter, actor *whistlev1.Actor) []any {
	attrs := []any{"seq", dl.Seq, "consumer", dl.Consumer, "subject", dl.Subject, "event_id", dl.EventID,
		"ticket_id", dl.TicketID, "error", dl.Error, "actor", actor.GetId(), "org_unit", actor.GetOrgUnitId()}
	if p, ok := auth.FromContext(ctx); ok {
		attrs = append(attrs, "caller", p.Subject)
	}
	return attrs
}

// kind gives the bus's errors about dead letter seq (0: a list) their apperr kind.
func kind(err error, seq uint64) error {
	switch {
	case errors.Is(err, bus.ErrNoDeadLetter):
		return fmt.Errorf("dead letter %d: %w", seq, ErrNotFound)
	case errors.Is(err, bus.ErrNotReplayable):
		return fmt.Errorf("dead letter %d: %w (%v)", seq, ErrNotReplayable, err)
	case errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrNoResponders), errors.Is(err, nats.ErrConnectionClosed),
		errors.Is(err, nats.ErrDisconnected), errors.Is(err, nats.ErrConnectionReconnecting),
		errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w (%v)", ErrUnavailable, err)
	}
	return err
}

func toProto(dl bus.DeadLetter) *whistlev1.DeadLetter {
	return &whistlev1.DeadLetter{Seq: dl.Seq, Consumer: dl.Consumer, Subject: dl.Subject, EventType: dl.EventType,
		Error: dl.Error, Deliveries: dl.Deliveries, DeadLetteredAt: timestamppb.New(dl.At), EventId: dl.EventID,
		TicketId: dl.TicketID}
}
