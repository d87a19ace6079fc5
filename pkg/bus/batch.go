package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/whistle-civic/whistle/pkg/telemetry"
)

// Delivery is one message of a batch, with the context to handle it in: it
// carries the message's trace context and its "process" span.
type Delivery struct {
	// Ctx is the message's context.
	Ctx context.Context
	// Msg is the message.
	Msg *Message
}

// BatchHandler processes the messages that were waiting together, in stream
// order, and returns one error per message, read as Handler's (nil
// acknowledges; ErrLater, other errors and Poison as for Handler). Handling
// them together lets a handler commit them in one database transaction.
// ctx bounds the whole batch (ConsumerConfig.AckWait).
type BatchHandler func(ctx context.Context, batch []Delivery) []error

// ConsumeBatch is Consume for a BatchHandler: the durable consumer hands
// over up to cfg.Batch messages at a time (default 64) — those already pulled
// when the handler is free, so a quiet stream still gets each event at once.
func (b *Bus) ConsumeBatch(ctx context.Context, cfg ConsumerConfig, h BatchHandler) error {
	if cfg.Batch == 0 {
		cfg.Batch = 64
	}
	return b.consume(ctx, cfg, h)
}

// one turns a Handler into a BatchHandler that handles each message alone.
func one(h Handler) BatchHandler {
	return func(_ context.Context, batch []Delivery) []error {
		errs := make([]error, len(batch))
		for i, d := range batch {
			errs[i] = h(d.Ctx, d.Msg)
		}
		return errs
	}
}

// loop hands the iterator's messages to handle in batches: a goroutine keeps
// pulling while a batch is handled, and the next batch is what it pulled
// meanwhile (at least one message, at most cfg.Batch).
func (r *runner) loop(ctx context.Context, it jetstream.MessagesContext, durable string) {
	pulled := make(chan jetstream.Msg, r.cfg.Batch)
	go func() {
		defer close(pulled)
		for {
			msg, err := it.Next(jetstream.NextContext(ctx))
			if err != nil {
				if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					return
				}
				r.cfg.Log.Warn("consumer pull failed", "consumer", durable, "err", err)
				continue
			}
			select {
			case pulled <- msg:
			case <-ctx.Done():
				return // unacknowledged: redelivered after AckWait
			}
		}
	}()
	for msg := range pulled {
		batch := []jetstream.Msg{msg}
	fill:
		for len(batch) < r.cfg.Batch {
			select {
			case m, ok := <-pulled:
				if !ok {
					break fill
				}
				batch = append(batch, m)
			default:
				break fill
			}
		}
		r.handle(context.WithoutCancel(ctx), batch, durable)
	}
}

// handle processes one batch and settles each of its messages.
func (r *runner) handle(ctx context.Context, msgs []jetstream.Msg, durable string) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, r.cfg.AckWait)
	defer cancel()
	msgs = r.skip(ctx, msgs, durable)
	if len(msgs) == 0 {
		return
	}
	ds := make([]*delivery, len(msgs))
	spans := make([]trace.Span, len(msgs))
	errs := make([]error, len(msgs))
	var todo []Delivery
	var at []int
	for i, msg := range msgs {
		d := r.delivery(msg, durable)
		ds[i] = d
		mctx := telemetry.Extract(ctx, telemetry.HeaderCarrier(d.m.Header))
		name, opts := telemetry.ProcessSpan(d.m.Subject, d.m.Header.Get(jetstream.MsgIDHeader), durable,
			attribute.Int64("messaging.nats.delivery_count", int64(d.m.Deliveries)),
			attribute.Int("messaging.batch.message_count", len(msgs)))
		mctx, spans[i] = r.tracer.Start(mctx, name, opts...)
		if d.unsettled > uint64(r.cfg.MaxUnsettled) {
			errs[i] = Poison(fmt.Errorf("delivered %d times without being acknowledged (the handler may crash on it)", d.unsettled-1))
			continue
		}
		todo = append(todo, Delivery{Ctx: mctx, Msg: d.m})
		at = append(at, i)
	}
	if len(todo) > 0 {
		for j, err := range r.call(ctx, todo) {
			errs[at[j]] = err
		}
	}
	took := time.Since(start).Seconds() / float64(len(msgs))
	for i, d := range ds {
		outcome := r.settle(ctx, d, errs[i])
		if herr := errs[i]; herr != nil {
			spans[i].RecordError(herr)
			if outcome != "later" {
				spans[i].SetStatus(codes.Error, herr.Error())
			}
		}
		spans[i].End()
		attrs := metric.WithAttributes(attribute.String("consumer", durable), attribute.String("outcome", outcome))
		r.processed.Add(ctx, 1, attrs, metric.WithAttributes(attribute.String("event_type", d.m.EventType)))
		r.duration.Record(ctx, took, attrs)
	}
}

// skip acknowledges the messages of event types the consumer does not take
// (delivered because the servers filter on one subject per consumer),
// without handing them to the handler, and returns the others.
func (r *runner) skip(ctx context.Context, msgs []jetstream.Msg, durable string) []jetstream.Msg {
	if r.types == nil {
		return msgs
	}
	kept := msgs[:0]
	for _, msg := range msgs {
		typ := r.bus.EventType(msg.Subject())
		if r.types[typ] {
			kept = append(kept, msg)
			continue
		}
		if err := msg.Ack(); err != nil {
			r.cfg.Log.WarnContext(ctx, "ack of a skipped event failed; it will be redelivered and skipped again", "consumer", durable, "err", err)
		}
		r.processed.Add(ctx, 1, metric.WithAttributes(attribute.String("consumer", durable),
			attribute.String("outcome", "skipped"), attribute.String("event_type", typ)))
	}
	return kept
}

// call runs the handler, turning a panic into an error for every message so
// one bad event cannot take the service down, and a short answer into errors
// for the messages it left out.
func (r *runner) call(ctx context.Context, batch []Delivery) (errs []error) {
	defer func() {
		if p := recover(); p != nil {
			errs = make([]error, len(batch))
			for i := range errs {
				errs[i] = fmt.Errorf("handler panicked: %v", p)
			}
		}
	}()
	errs = r.h(ctx, batch)
	if len(errs) != len(batch) {
		got := errs
		errs = make([]error, len(batch))
		for i := range errs {
			if i < len(got) {
				errs[i] = got[i]
			} else {
				errs[i] = fmt.Errorf("handler answered for %d of %d messages", len(got), len(batch))
			}
		}
	}
	return errs
}
