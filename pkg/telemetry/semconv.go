package telemetry

import (
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Whistle's spans follow the OpenTelemetry semantic conventions of the
// version the SDK speaks (semconv v1.43.0): otelgrpc names the RPC spans
// (rpc.system.name, rpc.method), otelpgx the database spans (see
// postgres.Config.Tracer), and the helpers below the messaging spans of the
// outbox relay and the consumers.

// SchemaURL is the semantic conventions' schema that Whistle's spans and
// resources follow.
const SchemaURL = semconv.SchemaURL

// MessagingSystemNATS is messaging.system for NATS JetStream. The
// conventions list no value for NATS; "nats" is the name NATS's own and
// other instrumentations use.
var MessagingSystemNATS = semconv.MessagingSystemKey.String("nats")

// Messaging operations: the name (messaging.operation.name, which also begins
// the span's name) and the type (messaging.operation.type) of each.
const (
	// OpPublish sends a message to a subject (a producer span).
	OpPublish = "publish"
	// OpProcess handles a delivered message (a consumer span).
	OpProcess = "process"
)

// PublishSpan returns the name and start options of a producer span that
// sends message id to subject: "publish <subject>", kind Producer, with the
// messaging attributes of the conventions.
func PublishSpan(subject, id string, extra ...attribute.KeyValue) (string, []trace.SpanStartOption) {
	attrs := append([]attribute.KeyValue{
		MessagingSystemNATS,
		semconv.MessagingOperationName(OpPublish),
		semconv.MessagingOperationTypeSend,
		semconv.MessagingDestinationName(subject),
		semconv.MessagingMessageID(id),
	}, extra...)
	return OpPublish + " " + subject, []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...)}
}

// ProcessSpan returns the name and start options of a consumer span that
// handles message id, delivered from subject to the durable consumer group:
// "process <subject>", kind Consumer, with the messaging attributes of the
// conventions.
func ProcessSpan(subject, id, group string, extra ...attribute.KeyValue) (string, []trace.SpanStartOption) {
	attrs := append([]attribute.KeyValue{
		MessagingSystemNATS,
		semconv.MessagingOperationName(OpProcess),
		semconv.MessagingOperationTypeProcess,
		semconv.MessagingDestinationName(subject),
		semconv.MessagingConsumerGroupName(group),
		semconv.MessagingMessageID(id),
	}, extra...)
	return OpProcess + " " + subject, []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...)}
}
