package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/whistle-civic/whistle/pkg/telemetry"
)

// ErrLater is returned by a handler for an event that cannot be applied yet
// (an earlier event about the same ticket has not arrived). The message is
// negatively acknowledged with a short, growing delay.
var ErrLater = errors.New("event cannot be applied yet")

type poisonError struct{ err error }

func (p poisonError) Error() string { return "poison event: " + p.err.Error() }
func (p poisonError) Unwrap() error { return p.err }

// Poison marks an error that no retry can cure (an undecodable event): the
// message goes to the dead-letter subject at once.
func Poison(err error) error { return poisonError{err} }

// IsPoison reports whether err was marked by Poison.
func IsPoison(err error) bool {
	var p poisonError
	return errors.As(err, &p)
}

// Message is one delivered event.
type Message struct {
	// Subject it was published on.
	Subject string
	// EventType is the subject's last token, e.g. "reported".
	EventType string
	// Data is the encoded whistle.v1.Event.
	Data []byte
	// Header holds Nats-Msg-Id and the trace context.
	Header nats.Header
	// Deliveries counts deliveries of this message, from 1.
	Deliveries uint64
}

// Handler processes one message. nil acknowledges it; ErrLater and other
// errors retry it later; an error wrapped by Poison dead-letters it.
type Handler func(ctx context.Context, m *Message) error

// ConsumerConfig describes a durable consumer.
type ConsumerConfig struct {
	// Name is the durable name, e.g. "dispatch"; with several event types,
	// each gets its own durable consumer "<Name>-<type>", which keeps Whistle
	// compatible with servers older than 2.10 (one filter subject each).
	Name string
	// EventTypes to receive; empty receives every event.
	EventTypes []string
	// MaxDeliveries is how often a failing message is tried before it goes to
	// the dead-letter subject. Default 10.
	MaxDeliveries int
	// AckWait is how long the server waits for an ack before redelivering.
	// Default 30 s.
	AckWait time.Duration
	// Buffer is how many messages are pulled ahead. Default 256.
	Buffer int
	// Telemetry for spans and metrics. Default: none.
	Telemetry *telemetry.Telemetry
	// Log receives failures. Default: discard.
	Log *slog.Logger
}

func (c *ConsumerConfig) defaults() {
	if c.MaxDeliveries == 0 {
		c.MaxDeliveries = 10
	}
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.Buffer == 0 {
		c.Buffer = 256
	}
	if c.Telemetry == nil {
		c.Telemetry = telemetry.Noop()
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Consume delivers events to h, one at a time per durable consumer, until ctx
// is cancelled; then it returns nil after the message in hand is finished.
// It creates (or updates) the durable consumers first, retrying while
// JetStream is unreachable, and returns an error only if that never succeeds
// before ctx ends.
func (b *Bus) Consume(ctx context.Context, cfg ConsumerConfig, h Handler) error {
	cfg.defaults()
	r := &runner{bus: b, cfg: cfg, h: h, tracer: cfg.Telemetry.Tracer.Tracer("whistle/bus")}
	if err := r.instruments(cfg.Telemetry.Meter.Meter("whistle/bus")); err != nil {
		return err
	}
	filters := map[string]string{cfg.Name: b.cfg.Prefix + ".v1.>"}
	if len(cfg.EventTypes) == 1 {
		filters = map[string]string{cfg.Name: b.Subject(cfg.EventTypes[0])}
	} else if len(cfg.EventTypes) > 1 {
		filters = map[string]string{}
		for _, t := range cfg.EventTypes {
			filters[cfg.Name+"-"+t] = b.Subject(t)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(filters))
	for durable, subject := range filters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.run(ctx, durable, subject); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return errors.Join(collect(errs)...)
}

func collect(ch <-chan error) []error {
	var out []error
	for err := range ch {
		out = append(out, err)
	}
	return out
}

type runner struct {
	bus       *Bus
	cfg       ConsumerConfig
	h         Handler
	tracer    trace.Tracer
	processed metric.Int64Counter
	dead      metric.Int64Counter
	duration  metric.Float64Histogram
}

func (r *runner) instruments(m metric.Meter) (err error) {
	if r.processed, err = m.Int64Counter("whistle.consumer.messages",
		metric.WithDescription("Messages handled by a consumer, by outcome (ack, retry, later, dead_letter)")); err != nil {
		return err
	}
	if r.dead, err = m.Int64Counter("whistle.consumer.dead_letters",
		metric.WithDescription("Messages sent to the dead-letter subject")); err != nil {
		return err
	}
	r.duration, err = m.Float64Histogram("whistle.consumer.duration", metric.WithUnit("s"),
		metric.WithDescription("Time to handle one message"))
	return err
}

func (r *runner) run(ctx context.Context, durable, subject string) error {
	cons, err := r.consumer(ctx, durable, subject)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	for ctx.Err() == nil {
		it, err := cons.Messages(jetstream.PullMaxMessages(r.cfg.Buffer))
		if err != nil {
			r.cfg.Log.Warn("consumer cannot pull, retrying", "consumer", durable, "err", err)
			sleep(ctx, time.Second)
			continue
		}
		r.loop(ctx, it, durable)
		it.Stop()
	}
	return nil
}

func (r *runner) loop(ctx context.Context, it jetstream.MessagesContext, durable string) {
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			r.cfg.Log.Warn("consumer pull failed", "consumer", durable, "err", err)
			continue
		}
		r.handle(context.WithoutCancel(ctx), msg, durable)
	}
}

func (r *runner) consumer(ctx context.Context, durable, subject string) (jetstream.Consumer, error) {
	cc := jetstream.ConsumerConfig{
		Durable:       durable,
		Description:   "Whistle consumer " + r.cfg.Name,
		FilterSubject: subject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       r.cfg.AckWait,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		// Deliveries are bounded by us (MaxDeliveries, then the dead-letter
		// subject), not by the server, which would drop the message silently.
		MaxDeliver:    -1,
		MaxAckPending: 4 * r.cfg.Buffer,
	}
	for delay := 100 * time.Millisecond; ; delay = min(delay*2, 5*time.Second) {
		c, err := r.bus.js.CreateOrUpdateConsumer(ctx, r.bus.cfg.Stream, cc)
		if err == nil {
			return c, nil
		}
		r.cfg.Log.Warn("cannot create consumer, retrying", "consumer", durable, "err", err)
		if !sleep(ctx, delay) {
			return nil, fmt.Errorf("create consumer %s: %w", durable, err)
		}
	}
}

func (r *runner) handle(ctx context.Context, msg jetstream.Msg, durable string) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, r.cfg.AckWait)
	defer cancel()
	md, err := msg.Metadata()
	deliveries := uint64(1)
	if err == nil {
		deliveries = md.NumDelivered
	}
	m := &Message{Subject: msg.Subject(), EventType: r.bus.EventType(msg.Subject()), Data: msg.Data(),
		Header: msg.Headers(), Deliveries: deliveries}
	if m.Header == nil {
		m.Header = nats.Header{}
	}
	ctx = telemetry.Extract(ctx, telemetry.HeaderCarrier(m.Header))
	ctx, span := r.tracer.Start(ctx, "process "+m.EventType, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", m.Subject),
			attribute.String("messaging.consumer.group.name", durable),
			attribute.String("messaging.message.id", m.Header.Get(jetstream.MsgIDHeader)),
			attribute.Int64("messaging.nats.delivery_count", int64(deliveries)),
		))
	defer span.End()

	var herr error
	if deliveries > uint64(r.cfg.MaxDeliveries) {
		herr = Poison(fmt.Errorf("delivered %d times without being acknowledged (the handler may crash on it)", deliveries-1))
	} else {
		herr = r.call(ctx, m)
	}
	outcome := r.settle(ctx, msg, m, durable, herr)
	if herr != nil {
		span.RecordError(herr)
		if outcome != "later" {
			span.SetStatus(codes.Error, herr.Error())
		}
	}
	attrs := metric.WithAttributes(attribute.String("consumer", durable), attribute.String("outcome", outcome))
	r.processed.Add(ctx, 1, attrs)
	r.duration.Record(ctx, time.Since(start).Seconds(), attrs)
}

// call runs the handler, turning a panic into an error so one bad event
// cannot take the service down.
func (r *runner) call(ctx context.Context, m *Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return r.h(ctx, m)
}

// settle acknowledges, retries or dead-letters the message and names the outcome.
func (r *runner) settle(ctx context.Context, msg jetstream.Msg, m *Message, durable string, herr error) string {
	switch {
	case herr == nil:
		if err := msg.Ack(); err != nil {
			r.cfg.Log.WarnContext(ctx, "ack failed; the event will be redelivered and recognised", "consumer", durable, "err", err)
		}
		return "ack"
	case IsPoison(herr) || m.Deliveries >= uint64(r.cfg.MaxDeliveries):
		if err := r.deadLetter(ctx, msg, m, durable, herr); err != nil {
			r.cfg.Log.ErrorContext(ctx, "dead-lettering failed; retrying the event", "consumer", durable, "err", err, "cause", herr)
			_ = msg.NakWithDelay(backoff(m.Deliveries, time.Second, time.Minute))
			return "retry"
		}
		r.cfg.Log.ErrorContext(ctx, "event dead-lettered", "consumer", durable, "subject", m.Subject,
			"deliveries", m.Deliveries, "err", herr)
		return "dead_letter"
	case errors.Is(herr, ErrLater):
		_ = msg.NakWithDelay(backoff(m.Deliveries, 100*time.Millisecond, 5*time.Second))
		return "later"
	default:
		r.cfg.Log.WarnContext(ctx, "event failed; will retry", "consumer", durable, "subject", m.Subject,
			"deliveries", m.Deliveries, "err", herr)
		_ = msg.NakWithDelay(backoff(m.Deliveries, 500*time.Millisecond, time.Minute))
		return "retry"
	}
}

// Headers set on dead-lettered messages, besides the original ones.
const (
	HeaderError      = "Whistle-Error"
	HeaderConsumer   = "Whistle-Consumer"
	HeaderSubject    = "Whistle-Subject"
	HeaderDeliveries = "Whistle-Deliveries"
)

func (r *runner) deadLetter(ctx context.Context, msg jetstream.Msg, m *Message, durable string, cause error) error {
	h := nats.Header{}
	for k, v := range m.Header {
		h[k] = v
	}
	h.Del(jetstream.MsgIDHeader)
	h.Set(HeaderError, cause.Error())
	h.Set(HeaderConsumer, durable)
	h.Set(HeaderSubject, m.Subject)
	h.Set(HeaderDeliveries, strconv.FormatUint(m.Deliveries, 10))
	id := durable + ":" + m.Header.Get(jetstream.MsgIDHeader)
	if md, err := msg.Metadata(); err == nil {
		id = fmt.Sprintf("%s:%d", durable, md.Sequence.Stream)
	}
	dl := &nats.Msg{Subject: r.bus.DLQSubject(durable), Data: m.Data, Header: h}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := r.bus.js.PublishMsg(pctx, dl, jetstream.WithMsgID(id)); err != nil {
		return err
	}
	r.dead.Add(ctx, 1, metric.WithAttributes(attribute.String("consumer", durable)))
	return msg.Term()
}

// backoff returns base·2^(n-1), capped at max, with ±20 % jitter.
func backoff(n uint64, base, max time.Duration) time.Duration {
	d := base
	for i := uint64(1); i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// sleep waits d or until ctx ends; it reports whether the wait was full.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
