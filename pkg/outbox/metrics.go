package outbox

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// instruments registers the relay's metrics: events published, events
// dead-lettered (by schema and where the event is held: dead_letter_stream or
// outbox_row), and the outbox's backlog (rows not yet sent, and the age of the
// oldest), read from the database when metrics are collected.
func (r *Relay) instruments() error {
	m := r.Telemetry.Meter.Meter("whistle/outbox")
	var err error
	if r.published, err = m.Int64Counter("whistle.outbox.published",
		metric.WithDescription("Events published from the outbox to JetStream")); err != nil {
		return err
	}
	if r.dead, err = m.Int64Counter("whistle.outbox.dead_lettered",
		metric.WithDescription("Outbox events no retry could publish (too large), dead-lettered and settled")); err != nil {
		return err
	}
	pending, err := m.Int64ObservableGauge("whistle.outbox.pending",
		metric.WithDescription("Outbox rows committed but not yet published"))
	if err != nil {
		return err
	}
	age, err := m.Float64ObservableGauge("whistle.outbox.oldest_age", metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest unpublished outbox row (outbox lag)"))
	if err != nil {
		return err
	}
	schema := metric.WithAttributes(attribute.String("schema", r.DB.Schema))
	_, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		var n int64
		var oldest float64
		err := r.DB.Pool.QueryRow(ctx, `SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
			FROM outbox WHERE sent_at IS NULL`).Scan(&n, &oldest)
		if err != nil {
			return err
		}
		o.ObserveInt64(pending, n, schema)
		o.ObserveFloat64(age, oldest, schema)
		return nil
	}, pending, age)
	return err
}
