package monitoring

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// instruments registers the ops gauges read at each scrape: tickets by
// status and overdue tickets by stage (test traffic left out). A failed read
// skips the observation rather than failing the scrape.
func (s *Service) instruments() error {
	if s.deps.Telemetry == nil {
		return nil
	}
	m := s.deps.Telemetry.Meter.Meter("whistle/monitoring")
	byStatus, err := m.Int64ObservableGauge("whistle.tickets",
		metric.WithDescription("Tickets in each status now, test traffic left out"))
	if err != nil {
		return fmt.Errorf("monitoring gauges: %w", err)
	}
	overdue, err := m.Int64ObservableGauge("whistle.tickets.overdue",
		metric.WithDescription("Open tickets past their accept or resolve deadline now"))
	if err != nil {
		return fmt.Errorf("monitoring gauges: %w", err)
	}
	_, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if counts, err := s.store.Counts(ctx, false); err == nil {
			for st, n := range counts {
				o.ObserveInt64(byStatus, n, metric.WithAttributes(attribute.String("status", st.String())))
			}
		}
		if stages, err := s.figs.OverdueByStage(ctx); err == nil {
			for _, stage := range []string{"accept", "resolve"} {
				o.ObserveInt64(overdue, stages[stage], metric.WithAttributes(attribute.String("stage", stage)))
			}
		}
		return nil
	}, byStatus, overdue)
	if err != nil {
		return fmt.Errorf("monitoring gauges: %w", err)
	}
	return nil
}
