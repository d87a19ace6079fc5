package intake

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/egress"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/telemetry"
	"github.com/whistle-civic/whistle/pkg/ticket"
	"github.com/whistle-civic/whistle/pkg/webhook"
)

// WebhookConfig shapes the delivery of webhooks. Zero values take the defaults.
type WebhookConfig struct {
	// Egress decides which addresses endpoints may connect to, when they
	// are added and at every connection. Default: no loopback, private,
	// link-local or metadata address (egress.Policy{}).
	Egress egress.Policy
	// Retry spaces out the retries of a delivery and says when to give up.
	// Default: 10 s doubling up to 1 h, for a day (webhook.Schedule).
	Retry webhook.Schedule
	// Timeout bounds one attempt, redirects included. Default 10 s.
	Timeout time.Duration
	// Concurrency is how many attempts a replica makes at once. Default 16.
	Concurrency int
	// Poll is how often a replica looks for deliveries come due (retries,
	// or those another replica queued). Default 1 s.
	Poll time.Duration
	// FailureRetention is how long failures stay listed. Default 30 days.
	FailureRetention time.Duration
}

func (c WebhookConfig) withDefaults() WebhookConfig {
	c.Timeout = cmp.Or(c.Timeout, egress.DefaultTimeout)
	c.Poll = cmp.Or(c.Poll, time.Second)
	c.FailureRetention = cmp.Or(c.FailureRetention, 30*24*time.Hour)
	if c.Concurrency <= 0 {
		c.Concurrency = 16
	}
	return c
}

// WebhooksConsumer names intake's durable consumer that queues the
// deliveries, and its inbox.
const WebhooksConsumer = Name + "-webhooks"

// deliveryLease is how long an attempt holds its delivery: longer than the
// attempt's timeout, after which another replica may try it (the first one
// having died).
const deliveryLease = time.Minute

// deliveryQueue is the part of the store the delivery loop uses.
type deliveryQueue interface {
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]claimed, error)
	SettleDeliveries(ctx context.Context, ss []settlement, now time.Time) error
}

// deliverer sends the queued deliveries.
type deliverer struct {
	queue   deliveryQueue
	sender  *webhook.Sender
	cfg     WebhookConfig
	clock   clock.Clock
	log     *slog.Logger
	tracer  trace.Tracer
	metrics deliveryMetrics
}

// round attempts one batch of due deliveries, up to Concurrency at once,
// and records their outcomes; more is true when the batch was full.
func (d *deliverer) round(ctx context.Context) (more bool, err error) {
	limit := 4 * d.cfg.Concurrency
	cs, err := d.queue.ClaimDeliveries(ctx, d.clock.Now(), deliveryLease, limit)
	if err != nil || len(cs) == 0 {
		return false, err
	}
	out := make([]settlement, len(cs))
	var g errgroup.Group
	g.SetLimit(d.cfg.Concurrency)
	for i, c := range cs {
		g.Go(func() error { out[i] = d.attempt(ctx, c); return nil })
	}
	_ = g.Wait()
	// The attempts were made: record them even when shutting down.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return len(cs) == limit, d.queue.SettleDeliveries(sctx, out, d.clock.Now())
}

// attempt sends one delivery, in the trace of its event.
func (d *deliverer) attempt(ctx context.Context, c claimed) settlement {
	var ev whistlev1.Event
	if err := proto.Unmarshal(c.Event, &ev); err != nil {
		return settlement{ID: c.ID, Error: "the queued event cannot be decoded: " + err.Error()}
	}
	ctx = telemetry.Extract(ctx, propagation.MapCarrier{"traceparent": c.Traceparent})
	ctx, span := d.tracer.Start(ctx, "webhook deliver "+events.TypeOf(&ev), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("whistle.ticket_id", ev.GetTicketId()), attribute.String("whistle.event_id", ev.GetEventId()),
			attribute.Int("whistle.webhook.attempt", c.Attempt)))
	defer span.End()
	res := d.send(ctx, c, &ev)
	d.metrics.record(ctx, res)
	st := settlement{ID: c.ID, Status: res.Status, Delivered: res.Outcome == webhook.Delivered}
	span.SetAttributes(attribute.String("whistle.webhook.outcome", res.Outcome.String()), attribute.Int("http.response.status_code", res.Status))
	if st.Delivered {
		return st
	}
	st.Error = res.Err.Error()
	span.SetStatus(codes.Error, st.Error)
	if res.Outcome == webhook.Retry {
		next, giveUp := d.cfg.Retry.Next(c.Attempt, c.FirstTry, d.clock.Now(), res.RetryAfter)
		if !giveUp {
			st.Next = next
			d.log.DebugContext(ctx, "webhook delivery failed; retrying", "delivery_id", c.ID, "attempt", c.Attempt, "err", res.Err, "retry_at", next)
			return st
		}
		st.Error = fmt.Sprintf("given up after %d attempts: %s", c.Attempt, st.Error)
	}
	d.log.WarnContext(ctx, "webhook delivery given up; ListWebhookFailures lists it", "delivery_id", c.ID, "url", c.URL,
		"event_id", ev.GetEventId(), "attempts", c.Attempt, "err", st.Error)
	return st
}

func (d *deliverer) send(ctx context.Context, c claimed, ev *whistlev1.Event) webhook.Result {
	key, err := webhook.ParseSecret(c.Secret)
	if err != nil {
		return webhook.Result{Outcome: webhook.Failed, Err: fmt.Errorf("%w: %w", webhook.ErrInvalid, err)}
	}
	ce, err := toCloudEvent(ev, c.Traceparent)
	if err != nil {
		return webhook.Result{Outcome: webhook.Failed, Err: fmt.Errorf("%w: %w", webhook.ErrInvalid, err)}
	}
	return d.sender.Send(ctx, c.URL, key, ce)
}

// deliveryMetrics count attempts by outcome and time them.
type deliveryMetrics struct {
	attempts metric.Int64Counter
	duration metric.Float64Histogram
}

func newDeliveryMetrics(m metric.Meter) (deliveryMetrics, error) {
	var dm deliveryMetrics
	var err error
	if dm.attempts, err = m.Int64Counter("whistle.webhook.deliveries",
		metric.WithDescription("Webhook delivery attempts, by outcome: delivered, retry (tried again later) or failed (given up at once)")); err != nil {
		return dm, err
	}
	dm.duration, err = m.Float64Histogram("whistle.webhook.duration", metric.WithUnit("s"),
		metric.WithDescription("How long a webhook delivery attempt took, by outcome"))
	return dm, err
}

func (m deliveryMetrics) record(ctx context.Context, r webhook.Result) {
	if m.attempts == nil {
		return
	}
	o := metric.WithAttributes(attribute.String("outcome", r.Outcome.String()))
	m.attempts.Add(ctx, 1, o)
	m.duration.Record(ctx, r.Took.Seconds(), o)
}

// queueWebhooks queues, in the inbox transaction, a delivery of each event
// for each subscription that wants it, with one statement for the batch.
// History (imported tickets' events) is never delivered.
func (s *Service) queueWebhooks(ctx context.Context, items []inbox.Item) ([]ticket.Decision, error) {
	decisions := make([]ticket.Decision, len(items))
	for i := range decisions {
		decisions[i] = ticket.Apply
	}
	subs, err := s.store.Subscriptions(ctx, false)
	if err != nil || len(subs) == 0 {
		return decisions, err
	}
	ticketIDs := make([]string, len(items))
	for i, it := range items {
		ticketIDs[i] = it.Event.GetTicketId()
	}
	grids, err := s.store.Grids(ctx, ticketIDs)
	if err != nil {
		return nil, err
	}
	var ds []delivery
	for _, it := range items {
		more, err := s.deliveriesOf(ctx, it, subs, grids[it.Event.GetTicketId()])
		if err != nil {
			return nil, err
		}
		ds = append(ds, more...)
	}
	if len(ds) == 0 {
		return decisions, nil
	}
	if err := s.store.EnqueueDeliveries(ctx, ds, s.clock.Now()); err != nil {
		return nil, err
	}
	return decisions, s.notifyQueued(ctx, webhooksChannel)
}

// deliveriesOf returns one event's deliveries.
func (s *Service) deliveriesOf(ctx context.Context, it inbox.Item, subs []Subscription, grid string) ([]delivery, error) {
	ev, typ := it.Event, events.TypeOf(it.Event)
	if ev.GetHistorical() || !deliverable(typ) {
		return nil, nil
	}
	concerned := map[string]bool{}
	for _, unit := range namedUnits(ev, grid) {
		path, err := s.deps.Tree().Path(ctx, unit)
		if err != nil {
			return nil, fmt.Errorf("where %s lies: %w", unit, err)
		}
		concerned[unit] = true
		for _, p := range path {
			concerned[p] = true
		}
	}
	var out []delivery
	var body []byte
	for _, sub := range subs {
		if !sub.wants(typ, concerned) {
			continue
		}
		if body == nil {
			var err error
			if body, err = proto.Marshal(ev); err != nil {
				return nil, fmt.Errorf("encode event %s: %w", ev.GetEventId(), err)
			}
		}
		out = append(out, delivery{WebhookID: sub.ID, EventID: ev.GetEventId(), EventType: typ, TicketID: ev.GetTicketId(),
			Event: body, Traceparent: telemetry.TraceParent(it.Ctx)})
	}
	return out, nil
}

// webhookConsumer is the durable consumer that queues deliveries.
func (s *Service) webhookConsumer() platform.Consumer {
	return platform.Consumer{Name: WebhooksConsumer, EventTypes: deliverableTypes(), ApplySet: s.queueWebhooks,
		Apply: func(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
			ds, err := s.queueWebhooks(ctx, []inbox.Item{{Ctx: ctx, Event: ev}})
			if err != nil {
				return 0, err
			}
			return ds[0], nil
		}}
}
