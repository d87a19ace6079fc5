package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/whistle-civic/whistle/pkg/backoff"
	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/telemetry"
)

// ErrLater is returned by a handler for an event that cannot be applied yet
// (an earlier event about the same ticket has not arrived, or a read model is
// being rebuilt). The message is negatively acknowledged with a short, growing
// delay of up to ConsumerConfig.LaterDelay. Waiting is not failing: such
// deliveries do not count towards MaxDeliveries, but a message still waiting
// once it is older than ConsumerConfig.MaxWait is dead-lettered.
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
	// Deliveries counts deliveries of this message, from 1, including those
	// that ended in ErrLater.
	Deliveries uint64
}

// Handler processes one message. nil acknowledges it; ErrLater and other
// errors retry it later; an error wrapped by Poison dead-letters it.
type Handler func(ctx context.Context, m *Message) error

// ConsumerConfig describes a durable consumer.
type ConsumerConfig struct {
	// Name is the durable consumer's name, e.g. "dispatch": one durable
	// receives all of EventTypes, in stream order. On servers from 2.10 on it
	// filters on their subjects; older servers take one filter subject per
	// consumer, so there it receives every event and acknowledges those of
	// other types without handing them to the handler (outcome "skipped").
	Name string
	// EventTypes to receive; empty receives every event.
	EventTypes []string
	// Replaces names consumers this one took the work of. At start their
	// durables (each name, and "<name>-<type>" for each of EventTypes), and
	// those the one-durable-per-type layout made of this consumer
	// ("<Name>-<type>"), are deleted, and a new durable starts at the first
	// event any of them had not yet acknowledged. Their handlers' inbox rows
	// must be carried over to Name, so that what they handled already is
	// recognised when delivered again.
	Replaces []string
	// MaxDeliveries is how often a failing message is tried before it goes to
	// the dead-letter subject. Deliveries that ended in ErrLater do not count.
	// Default 10.
	MaxDeliveries int
	// MaxUnsettled dead-letters a message delivered this many times without
	// this process settling any of those deliveries: the handler may crash
	// the process on it. Deliveries to other replicas of the durable, and to
	// an earlier run of this process, count here too, so it is set well
	// above what a message waiting MaxWait can reach. Default 2000.
	MaxUnsettled int
	// MaxWait is how long a message may keep answering ErrLater, from its
	// first such answer, before it goes to the dead-letter subject as having
	// waited too long for earlier events. It is counted from the first answer
	// rather than from publication so that old events caught up on after an
	// outage may still wait; it restarts with the process. Default 1 hour.
	MaxWait time.Duration
	// LaterDelay caps the growing delay before a message that answered
	// ErrLater is delivered again. Default 5 s.
	LaterDelay time.Duration
	// AckWait is how long the server waits for an ack before redelivering.
	// Default 30 s.
	AckWait time.Duration
	// Buffer is how many messages are pulled ahead. Default 256.
	Buffer int
	// Batch is how many waiting messages one handler call takes: 1 for
	// Consume (each message alone), default 64 for ConsumeBatch.
	Batch int
	// Telemetry for spans and metrics. Default: none.
	Telemetry *telemetry.Telemetry
	// Log receives failures. Default: discard.
	Log *slog.Logger
}

func (c *ConsumerConfig) defaults() {
	if c.MaxDeliveries == 0 {
		c.MaxDeliveries = 10
	}
	if c.MaxWait == 0 {
		c.MaxWait = time.Hour
	}
	if c.MaxUnsettled == 0 {
		c.MaxUnsettled = 2000
	}
	if c.LaterDelay == 0 {
		c.LaterDelay = 5 * time.Second
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

// Consume delivers events to h, one at a time and in stream order, until ctx
// is cancelled; then it returns nil after the message in hand is finished.
// It creates (or updates) the durable consumer first, and deletes those it
// replaces (see ConsumerConfig.Replaces), retrying while JetStream is
// unreachable, and returns an error only if that never succeeds before ctx
// ends. While it runs, the consumer's lag, unacknowledged messages and dead
// letters are observable gauges on cfg.Telemetry.Meter.
func (b *Bus) Consume(ctx context.Context, cfg ConsumerConfig, h Handler) error {
	if cfg.Batch == 0 {
		cfg.Batch = 1
	}
	return b.consume(ctx, cfg, one(h))
}

func (b *Bus) consume(ctx context.Context, cfg ConsumerConfig, h BatchHandler) error {
	cfg.defaults()
	r := &runner{bus: b, cfg: cfg, h: h, tracer: cfg.Telemetry.Tracer.Tracer("whistle/bus"),
		// A waiting message is redelivered within LaterDelay and dead-lettered
		// after MaxWait; one not seen for MaxWait+10 min was settled
		// elsewhere, and its count is forgotten.
		laters: &laters{idle: cfg.MaxWait + 10*time.Minute}}
	if len(cfg.EventTypes) > 0 {
		r.types = map[string]bool{}
		for _, t := range cfg.EventTypes {
			r.types[t] = true
		}
	}
	meter := cfg.Telemetry.Meter.Meter("whistle/bus")
	if err := r.instruments(meter); err != nil {
		return err
	}
	reg, err := r.gauges(meter, []string{cfg.Name})
	if err != nil {
		return err
	}
	defer func() { _ = reg.Unregister() }()
	return r.run(ctx, cfg.Name)
}

type runner struct {
	bus *Bus
	cfg ConsumerConfig
	// types are the event types handed to the handler; nil: all.
	types     map[string]bool
	h         BatchHandler
	tracer    trace.Tracer
	processed metric.Int64Counter
	dead      metric.Int64Counter
	duration  metric.Float64Histogram
	laters    *laters
}

func (r *runner) instruments(m metric.Meter) (err error) {
	if r.processed, err = m.Int64Counter("whistle.consumer.messages",
		metric.WithDescription("Messages handled by a consumer, by event type and outcome (ack, retry, later, dead_letter, skipped)")); err != nil {
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

func (r *runner) run(ctx context.Context, durable string) error {
	cons, err := r.consumer(ctx)
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
			clock.Sleep(ctx, time.Second)
			continue
		}
		r.loop(ctx, it, durable)
		it.Stop()
	}
	return nil
}

// delivery is one delivery of a message and what is known of its history.
type delivery struct {
	msg     jetstream.Msg
	m       *Message
	durable string
	// key finds the message's count of deliveries that ended in ErrLater.
	key laterKey
	// failed counts the deliveries this process saw fail (not wait), this one included.
	failed uint64
	// unsettled counts the deliveries this process did not settle: to other
	// replicas, to an earlier run, or to a run that crashed, this one included.
	unsettled uint64
	// waited is the time since the message first answered ErrLater; 0 if it never did.
	waited time.Duration
}

// delivery reads msg's metadata. Without metadata (never seen from a pull
// consumer) it is taken as a first delivery of a new message.
func (r *runner) delivery(msg jetstream.Msg, durable string) *delivery {
	m := r.bus.message(msg)
	d := &delivery{msg: msg, m: m, durable: durable, failed: 1}
	if md, err := msg.Metadata(); err == nil {
		d.key = laterKey{durable: durable, seq: md.Sequence.Stream}
		m.Deliveries = md.NumDelivered
		c := r.laters.get(d.key)
		d.failed = c.failed + 1
		d.unsettled = md.NumDelivered - min(c.n+c.failed, md.NumDelivered-1)
		if c.n > 0 {
			d.waited = time.Since(c.first)
		}
	}
	return d
}

// settle acknowledges, retries or dead-letters the message and names the outcome.
func (r *runner) settle(ctx context.Context, d *delivery, herr error) string {
	switch {
	case herr == nil:
		r.laters.drop(d.key)
		if err := d.msg.Ack(); err != nil {
			r.cfg.Log.WarnContext(ctx, "ack failed; the event will be redelivered and recognised", "consumer", d.durable, "err", err)
		}
		return "ack"
	case IsPoison(herr):
		return r.bury(ctx, d, herr)
	case errors.Is(herr, ErrLater):
		return r.later(ctx, d)
	case d.failed >= uint64(r.cfg.MaxDeliveries):
		return r.bury(ctx, d, herr)
	default:
		r.laters.fail(d.key)
		r.cfg.Log.WarnContext(ctx, "event failed; will retry", "consumer", d.durable, "subject", d.m.Subject,
			"deliveries", d.m.Deliveries, "failed", d.failed, "err", herr)
		_ = d.msg.NakWithDelay(backoff.Delay(int(d.failed), 500*time.Millisecond, time.Minute))
		return "retry"
	}
}

// later has the message delivered again after a growing delay, unless it has
// waited longer than MaxWait: then it is dead-lettered.
func (r *runner) later(ctx context.Context, d *delivery) string {
	if d.waited > r.cfg.MaxWait {
		return r.bury(ctx, d, fmt.Errorf("waited too long for earlier events: answered ErrLater for %s, MaxWait is %s; "+
			"check that the services publishing this ticket's earlier events are running and that no read model "+
			"rebuild is stuck, then replay it from the dead-letter stream", d.waited.Round(time.Millisecond), r.cfg.MaxWait))
	}
	n := r.laters.add(d.key)
	_ = d.msg.NakWithDelay(backoff.Delay(int(n), 100*time.Millisecond, r.cfg.LaterDelay))
	return "later"
}

// bury dead-letters the message; if that fails, it retries the message later.
func (r *runner) bury(ctx context.Context, d *delivery, cause error) string {
	if err := r.deadLetter(ctx, d.msg, d.m, d.durable, cause); err != nil {
		r.cfg.Log.ErrorContext(ctx, "dead-lettering failed; retrying the event", "consumer", d.durable, "err", err, "cause", cause)
		_ = d.msg.NakWithDelay(backoff.Delay(int(d.failed), time.Second, time.Minute))
		return "retry"
	}
	r.laters.drop(d.key)
	r.cfg.Log.ErrorContext(ctx, "event dead-lettered", "consumer", d.durable, "subject", d.m.Subject,
		"deliveries", d.m.Deliveries, "err", cause)
	return "dead_letter"
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
		if !strings.HasPrefix(k, "Nats-") { // JetStream's own (message id, expectations) belong to the first publish
			h[k] = v
		}
	}
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
