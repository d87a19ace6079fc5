package bus_test

import (
	"context"
	"fmt"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/eventually"
	"github.com/whistle-civic/whistle/pkg/natstest"
	"github.com/whistle-civic/whistle/pkg/telemetry"
)

// gauges collects reader's int64 gauges observed for consumer, by name.
func gauges(t *testing.T, reader sdkmetric.Reader, consumer string) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			g, ok := m.Data.(metricdata.Gauge[int64])
			if !ok {
				continue
			}
			for _, dp := range g.DataPoints {
				if v, ok := dp.Attributes.Value("consumer"); ok && v.AsString() == consumer {
					out[m.Name] = dp.Value
				}
			}
		}
	}
	return out
}

func TestConsumerGauges(t *testing.T) {
	t.Parallel()
	b := natstest.New(t).Connect(t, "test")
	reader := sdkmetric.NewManualReader()
	tel := telemetry.Noop()
	tel.Meter = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	release := make(chan struct{})
	stop := consume(t, b, bus.ConsumerConfig{Name: "svc", Buffer: 1, Telemetry: tel},
		func(ctx context.Context, m *bus.Message) error {
			if string(m.Data) == "bad" {
				return bus.Poison(fmt.Errorf("cannot decode"))
			}
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	const n = 10
	for i := range n {
		publish(t, b, "reported", fmt.Sprint("m", i))
	}
	eventually.True(t, "lag and unacknowledged messages to add up", func() bool {
		g := gauges(t, reader, "svc")
		return g["whistle.consumer.lag"] > 0 && g["whistle.consumer.lag"]+g["whistle.consumer.ack_pending"] == n
	})
	close(release)
	eventually.True(t, "lag to drain", func() bool {
		g := gauges(t, reader, "svc")
		return g["whistle.consumer.lag"] == 0 && g["whistle.consumer.ack_pending"] == 0 && g["whistle.consumer.dead_letters.pending"] == 0
	})
	publish(t, b, "reported", "bad")
	eventually.True(t, "a pending dead letter", func() bool {
		return gauges(t, reader, "svc")["whistle.consumer.dead_letters.pending"] == 1
	})
	stop()
	if g := gauges(t, reader, "svc"); len(g) != 0 {
		t.Fatalf("gauges %v observed after Consume returned; want none", g)
	}
}
