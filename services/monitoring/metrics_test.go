package monitoring_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/pkg/telemetry"
	"github.com/whistle-civic/whistle/services/monitoring"
)

func TestGaugesCountTicketsByStatusAndOverdue(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	deps := platformtest.Deps(t, monitoring.Name, monitoring.Migrations(), nil, nil)
	deps.Telemetry = &telemetry.Telemetry{Tracer: noop.NewTracerProvider(), Meter: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))}
	svc, err := monitoring.New(deps, monitoring.Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := monitorWith(t, deps, svc)
	project(t, p, knownDataset()...)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			g, ok := m.Data.(metricdata.Gauge[int64])
			if !ok {
				continue
			}
			for _, dp := range g.DataPoints {
				var labels []string
				for _, kv := range dp.Attributes.ToSlice() {
					labels = append(labels, kv.Value.AsString())
				}
				got = append(got, fmt.Sprintf("%s{%s}=%d", m.Name, strings.Join(labels, ","), dp.Value))
			}
		}
	}
	sort.Strings(got)
	// The known dataset without its test ticket: T1, T3, T4 closed; T2
	// accepted and overdue to resolve; T5 dispatched; T7 in triage.
	want := "whistle.tickets.overdue{accept}=0 whistle.tickets.overdue{resolve}=1 whistle.tickets{ACCEPTED}=1 " +
		"whistle.tickets{CLOSED}=3 whistle.tickets{DISPATCHED}=1 whistle.tickets{TRIAGE}=1"
	if strings.Join(got, " ") != want {
		t.Fatalf("gauges\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}
