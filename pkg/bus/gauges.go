package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// gaugeTimeout bounds the JetStream requests of one observation; what they
// cannot answer in time is left unobserved rather than failing the collection.
const gaugeTimeout = 2 * time.Second

// consumerGauges observes the durable consumers' state in JetStream.
type consumerGauges struct {
	bus         *Bus
	durables    []string
	lag         metric.Int64ObservableGauge
	ackPending  metric.Int64ObservableGauge
	deadLetters metric.Int64ObservableGauge
}

// gauges registers the observable gauges of the durable consumers, each with
// the attribute consumer=<durable>: whistle.consumer.lag (messages not yet
// delivered), whistle.consumer.ack_pending (delivered, not yet acknowledged)
// and whistle.consumer.dead_letters.pending (held in the dead-letter stream).
// On servers older than NATS 2.10 a consumer of some event types receives
// every event, so there its lag counts the events it will skip as well.
// The caller unregisters the callback when the consumers stop.
func (r *runner) gauges(m metric.Meter, durables []string) (metric.Registration, error) {
	g := &consumerGauges{bus: r.bus, durables: durables}
	var err error
	if g.lag, err = m.Int64ObservableGauge("whistle.consumer.lag", metric.WithUnit("{message}"),
		metric.WithDescription("Messages in the stream not yet delivered to the consumer")); err != nil {
		return nil, fmt.Errorf("create gauge whistle.consumer.lag: %w", err)
	}
	if g.ackPending, err = m.Int64ObservableGauge("whistle.consumer.ack_pending", metric.WithUnit("{message}"),
		metric.WithDescription("Messages delivered to the consumer and not yet acknowledged")); err != nil {
		return nil, fmt.Errorf("create gauge whistle.consumer.ack_pending: %w", err)
	}
	if g.deadLetters, err = m.Int64ObservableGauge("whistle.consumer.dead_letters.pending", metric.WithUnit("{message}"),
		metric.WithDescription("Messages of the consumer held in the dead-letter stream")); err != nil {
		return nil, fmt.Errorf("create gauge whistle.consumer.dead_letters.pending: %w", err)
	}
	reg, err := m.RegisterCallback(g.observe, g.lag, g.ackPending, g.deadLetters)
	if err != nil {
		return nil, fmt.Errorf("register consumer gauges: %w", err)
	}
	return reg, nil
}

// observe is the gauges' callback. It never fails: a consumer not created yet
// or a JetStream that does not answer within gaugeTimeout goes unobserved.
func (g *consumerGauges) observe(ctx context.Context, o metric.Observer) error {
	ctx, cancel := context.WithTimeout(ctx, gaugeTimeout)
	defer cancel()
	dlq, dlqErr := g.bus.js.Stream(ctx, g.bus.cfg.Stream+"_DLQ")
	for _, durable := range g.durables {
		attrs := metric.WithAttributes(attribute.String("consumer", durable))
		if c, err := g.bus.js.Consumer(ctx, g.bus.cfg.Stream, durable); err == nil {
			info := c.CachedInfo()
			o.ObserveInt64(g.lag, int64(info.NumPending), attrs)
			o.ObserveInt64(g.ackPending, int64(info.NumAckPending), attrs)
		}
		if dlqErr != nil {
			continue
		}
		subject := g.bus.DLQSubject(durable)
		if info, err := dlq.Info(ctx, jetstream.WithSubjectFilter(subject)); err == nil {
			o.ObserveInt64(g.deadLetters, int64(info.State.Subjects[subject]), attrs)
		}
	}
	return nil
}
