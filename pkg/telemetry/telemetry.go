// Package telemetry sets up OpenTelemetry for a service from the standard
// OTEL_* environment variables, carries trace context through NATS headers and
// outbox rows, keeps one trace per ticket, and writes slog JSON logs that name
// the trace and span they belong to.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Propagator carries W3C trace context and baggage. Whistle uses it explicitly
// (not the global one) in NATS headers and outbox rows.
var Propagator propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(
	propagation.TraceContext{}, propagation.Baggage{})

// Options configure Setup.
type Options struct {
	// ServiceName becomes the resource's service.name, e.g. "whistle-intake";
	// it wins over OTEL_SERVICE_NAME so that the five services of `whistle dev`
	// keep apart. Required.
	ServiceName string
	// SpanExporter, when set, receives every span instead of what the
	// environment names (tests pass an in-memory exporter).
	SpanExporter sdktrace.SpanExporter
	// MetricReader, when set, is added to the meter provider besides what the
	// environment names (tests pass one).
	MetricReader sdkmetric.Reader
	// Prometheus, when set, also exposes every metric to this registry for a
	// /metrics endpoint, labelled with service_name so that several services
	// can share one registry. See MetricsHandler.
	Prometheus prometheus.Registerer
}

// Telemetry is a service's tracer and meter providers.
type Telemetry struct {
	// Tracer creates the service's spans; all its components use it.
	Tracer trace.TracerProvider
	// Meter creates the service's instruments.
	Meter metric.MeterProvider
	// ExportsSpans tells whether spans go anywhere (an exporter is set); when
	// they do not, components may skip the spans only an exporter would show,
	// such as one per database statement.
	ExportsSpans bool
	shutdown     []func(context.Context) error
}

// Setup builds the providers. Spans are exported only when
// OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (then as those variables say);
// otherwise spans are still made, so logs and timelines carry trace ids, but
// go nowhere. Metrics likewise with OTEL_METRICS_EXPORTER and the metrics
// endpoint. OTEL_RESOURCE_ATTRIBUTES and OTEL_TRACES_SAMPLER are honoured.
func Setup(ctx context.Context, o Options) (*Telemetry, error) {
	if o.ServiceName == "" {
		return nil, errors.New("telemetry: ServiceName is required")
	}
	res, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK(),
		resource.WithSchemaURL(SchemaURL), resource.WithAttributes(semconv.ServiceName(o.ServiceName)))
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	t := &Telemetry{}
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	exp := o.SpanExporter
	if exp == nil && exportWanted("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
		if exp, err = autoexport.NewSpanExporter(ctx); err != nil {
			return nil, fmt.Errorf("telemetry span exporter (check OTEL_TRACES_EXPORTER and OTEL_EXPORTER_OTLP_*): %w", err)
		}
	}
	if exp != nil {
		t.ExportsSpans = true
		if o.SpanExporter != nil {
			tpOpts = append(tpOpts, sdktrace.WithSyncer(exp))
		} else {
			tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
		}
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)
	t.Tracer, t.shutdown = tp, append(t.shutdown, tp.Shutdown)

	mpOpts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	if o.MetricReader != nil {
		mpOpts = append(mpOpts, sdkmetric.WithReader(o.MetricReader))
	}
	if o.Prometheus != nil {
		r, err := otelprom.New(otelprom.WithRegisterer(o.Prometheus),
			otelprom.WithResourceAsConstantLabels(attribute.NewAllowKeysFilter("service.name")), otelprom.WithoutScopeInfo())
		if err != nil {
			return nil, fmt.Errorf("telemetry prometheus exporter: %w", err)
		}
		mpOpts = append(mpOpts, sdkmetric.WithReader(r))
	}
	if exportWanted("OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") {
		r, err := autoexport.NewMetricReader(ctx)
		if err != nil {
			return nil, fmt.Errorf("telemetry metric reader (check OTEL_METRICS_EXPORTER and OTEL_EXPORTER_OTLP_*): %w", err)
		}
		mpOpts = append(mpOpts, sdkmetric.WithReader(r))
	}
	mp := sdkmetric.NewMeterProvider(mpOpts...)
	t.Meter, t.shutdown = mp, append(t.shutdown, mp.Shutdown)
	return t, nil
}

func exportWanted(exporterVar, endpointVar string) bool {
	if v := os.Getenv(exporterVar); v != "" {
		return v != "none"
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv(endpointVar) != ""
}

// Shutdown flushes and stops the providers.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}

// Noop returns providers that record nothing, for code paths that need
// Telemetry but whose spans nobody reads.
func Noop() *Telemetry {
	return &Telemetry{Tracer: noop.NewTracerProvider(), Meter: sdkmetric.NewMeterProvider()}
}
