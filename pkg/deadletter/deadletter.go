// Package deadletter is the DeadLetterService: it lists the events the
// services' consumers gave up on (held in the dead-letter stream with the
// error, see pkg/bus), and replays or discards them once an administrator has
// dealt with the cause. The dead letters live in JetStream, which every
// service shares, so one server over any service's connection sees them all.
package deadletter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/apperr"
	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/bus"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/policy"
)

// ServiceName is the DeadLetterService's full gRPC name, for health checks.
const ServiceName = "whistle.v1.DeadLetterService"

// The errors of the service.
var (
	// ErrNotFound: the sequence names no dead letter.
	ErrNotFound = apperr.New(apperr.NotFound, "no such dead letter: it was replayed or discarded already, or never "+
		"existed; list the dead letters (whistlectl dead-letters list) for the sequences held")
	// ErrNotReplayable: the dead letter does not say where its event was published.
	ErrNotReplayable = apperr.New(apperr.FailedPrecondition, "the dead letter names no original subject on the "+
		"events stream, so it cannot be replayed; discard it instead")
	// ErrUnavailable: JetStream did not answer.
	ErrUnavailable = apperr.New(apperr.Unavailable, "JetStream did not answer; retry shortly (a replay repeated "+
		"within two minutes is dropped as a duplicate, so retrying is safe)")
)

// defaultPageSize is the page size of a request that names none.
const defaultPageSize = 50

// settleTimeout bounds a replay or discard, which finishes even when the
// caller goes away: a replay published should also leave the dead letters.
const settleTimeout = 15 * time.Second

// RegisterServer registers the DeadLetterService on r, over the dead-letter
// stream of b; replays and discards are logged to log (nil: discarded). Who
// may call it (administrators; monitors may list) is decided by the server's
// authorization policy, not here.
func RegisterServer(r grpc.ServiceRegistrar, b *bus.Bus, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	whistlev1.RegisterDeadLetterServiceServer(r, &grpcServer{bus: b, log: log})
}

// grpcServer is the DeadLetterService API. Requests arrive validated against
// their proto annotations; errors are mapped to statuses by pkg/grpcserver.
type grpcServer struct {
	whistlev1.UnimplementedDeadLetterServiceServer
	bus *bus.Bus
	log *slog.Logger
}

// ListDeadLetters lists dead letters, oldest first, one page at a time.
func (g *grpcServer) ListDeadLetters(ctx context.Context, req *whistlev1.ListDeadLettersRequest) (*whistlev1.ListDeadLettersResponse, error) {
	size := int(req.GetPageSize())
	if size == 0 {
		size = defaultPageSize
	}
	dls, err := g.bus.DeadLetters(ctx, req.GetConsumer(), req.GetAfterSeq(), size+1)
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
// subject and removes it from the dead letters.
func (g *grpcServer) ReplayDeadLetter(ctx context.Context, req *whistlev1.ReplayDeadLetterRequest) (*whistlev1.ReplayDeadLetterResponse, error) {
	if err := policy.ActingAs(ctx, req.GetActor().GetOrgUnitId()); err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	dl, err := g.bus.ReplayDeadLetter(sctx, req.GetSeq())
	if err != nil {
		return nil, kind(err, req.GetSeq())
	}
	g.log.InfoContext(ctx, "dead letter replayed", logAttrs(ctx, dl, req.GetActor())...)
	return &whistlev1.ReplayDeadLetterResponse{DeadLetter: toProto(dl)}, nil
}

// DiscardDeadLetter removes a dead letter without replaying it.
func (g *grpcServer) DiscardDeadLetter(ctx context.Context, req *whistlev1.DiscardDeadLetterRequest) (*whistlev1.DiscardDeadLetterResponse, error) {
	if err := policy.ActingAs(ctx, req.GetActor().GetOrgUnitId()); err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	dl, err := g.bus.DiscardDeadLetter(sctx, req.GetSeq())
	if err != nil {
		return nil, kind(err, req.GetSeq())
	}
	g.log.InfoContext(ctx, "dead letter discarded", append(logAttrs(ctx, dl, req.GetActor()), "reason", req.GetReason())...)
	return &whistlev1.DiscardDeadLetterResponse{DeadLetter: toProto(dl)}, nil
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
