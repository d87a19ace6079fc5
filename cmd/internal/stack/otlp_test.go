package stack_test

import (
	"context"
	"encoding/hex"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/evalcode"
	"github.com/whistle-civic/whistle/pkg/eventually"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/natstest"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/pkg/telemetry"
	"github.com/whistle-civic/whistle/services/evaluation"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
	"github.com/whistle-civic/whistle/cmd/internal/stack"
)

// collector is an OTLP/gRPC endpoint that keeps every span it is sent and
// accepts metrics without keeping them.
type collector struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []exported
}

// exported is one span as it arrived, with its service's name.
type exported struct {
	service string
	*tracepb.Span
}

func (c *collector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		service := attrs(rs.GetResource().GetAttributes())["service.name"]
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.spans = append(c.spans, exported{service: service, Span: s})
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (c *collector) all() []exported {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]exported(nil), c.spans...)
}

type metricSink struct {
	colmetricpb.UnimplementedMetricsServiceServer
}

func (metricSink) Export(context.Context, *colmetricpb.ExportMetricsServiceRequest) (*colmetricpb.ExportMetricsServiceResponse, error) {
	return &colmetricpb.ExportMetricsServiceResponse{}, nil
}

// startCollector serves a collector on a loopback port until the test ends
// and returns it and its endpoint URL.
func startCollector(t *testing.T) (*collector, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, c)
	colmetricpb.RegisterMetricsServiceServer(srv, metricSink{})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return c, "http://" + lis.Addr().String()
}

// TestOTLPExportOneTracePerTicket runs the stack as `whistle dev` does, its
// telemetry set up from the standard OTEL_* variables and exporting over
// OTLP/gRPC to a collector of the test's own, drives one ticket through the
// loop and shuts the stack down (which flushes the exporters). What the
// collector received must show the ticket as one trace spanning all five
// services, with RPC, messaging and database spans that follow the semantic
// conventions.
func TestOTLPExportOneTracePerTicket(t *testing.T) {
	col, endpoint := startCollector(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "") // nothing from the environment the test runs in
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "")
	t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")

	ctx := context.Background()
	keyFile, jwks, err := auth.NewDevKey(filepath.Join(t.TempDir(), "auth"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.LoadSigner(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(ctx, auth.VerifierConfig{JWKSFile: jwks, Audience: "whistle"})
	if err != nil {
		t.Fatal(err)
	}
	dbURL := pgtest.NewDatabase(t)
	env := natstest.NewSecured(t)
	codes, err := evalcode.Ensure(filepath.Join(t.TempDir(), "evaluation-code.keys"))
	if err != nil {
		t.Fatal(err)
	}
	// As `whistle dev` configures it: no Telemetry (so telemetry.Setup from
	// the environment), a Prometheus registry, tokens verified, a NATS user
	// per service.
	st, err := stack.Start(ctx, stack.Config{
		DatabaseURL:     dbURL,
		Bus:             env.Config,
		NATSAuth:        env.Auths(),
		NATSOptions:     env.Options,
		Log:             platformtest.Logger(t),
		Metrics:         telemetry.NewRegistry(),
		EvaluationCodes: codes,
		Auth: &auth.Authenticator{Verifier: verifier, Public: func(m string) bool { return strings.HasPrefix(m, "/grpc.health.v1.") },
			Anonymous: func(_ context.Context, method string, req any) (auth.Principal, bool) {
				return evaluation.Resident(method, req)
			}},
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	shutdown := func() error {
		stopped = true
		return st.Shutdown(context.Background(), 10*time.Second)
	}
	t.Cleanup(func() {
		if !stopped {
			_ = shutdown()
		}
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = st.Server.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	const city = "hh"
	as := func(ctx context.Context, role auth.Role, orgUnit string) context.Context {
		tok, err := signer.Mint(auth.Claims{Subject: "test-" + string(role) + "@" + orgUnit, OrgUnit: orgUnit,
			Roles: []auth.Role{role}, Audience: "whistle"})
		if err != nil {
			t.Error(err)
		}
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	}
	clients := loop.NewClients(conn)

	res, err := loop.Run(ctx, clients, loop.Options{Tickets: 1, Concurrency: 1, Timeout: 2 * time.Minute, Seed: 7, As: as, City: city})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reported != 1 || res.Closed != 1 || len(res.Failures) > 0 {
		t.Fatalf("%s; failures: %v", res.Summary(), res.Failures)
	}
	id := res.TicketIDs[0]
	monitor := as(ctx, auth.RoleMonitor, city)
	tk, err := clients.Intake.GetTicket(monitor, &whistlev1.GetTicketRequest{Ticket: id})
	if err != nil {
		t.Fatal(err)
	}
	traceID := tk.GetTicket().GetTraceId()
	tl, err := clients.Monitoring.GetTimeline(monitor, &whistlev1.GetTimelineRequest{TicketId: id})
	if err != nil {
		t.Fatal(err)
	}
	eventTypes := map[string]string{} // event id → type
	for _, e := range tl.GetEntries() {
		eventTypes[e.GetEventId()] = e.GetEventType()
	}
	if len(traceID) != 32 || len(eventTypes) < 6 {
		t.Fatalf("ticket %s: trace id %q, %d events in its timeline", id, traceID, len(eventTypes))
	}
	if err := shutdown(); err != nil {
		t.Fatalf("shutdown (flushing the exporters): %v", err)
	}

	// Every service sent its spans, named by its resource.
	var spans []exported
	services := map[string]bool{}
	eventually.True(t, "spans of every service at the collector", func() bool {
		spans = col.all()
		clear(services)
		for _, s := range spans {
			services[s.service] = true
		}
		for _, name := range stack.Names {
			if !services["whistle-"+name] {
				return false
			}
		}
		return services["whistle-api"]
	})

	ticket := checkOneTree(t, spans, traceID)
	checkRPCSpans(t, spans, traceID)
	checkMessagingSpans(t, spans, traceID, eventTypes)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	checkDatabaseSpans(t, ticket, strings.TrimPrefix(u.Path, "/"))
}

// checkOneTree asserts that the ticket's trace is one tree begun by the
// Report call, holding spans of all five services, and returns its spans.
func checkOneTree(t *testing.T, spans []exported, traceID string) []exported {
	t.Helper()
	var ticket []exported
	ids := map[string]bool{}
	perService := map[string]int{}
	for _, s := range spans {
		if hex.EncodeToString(s.GetTraceId()) == traceID {
			ticket = append(ticket, s)
			ids[hex.EncodeToString(s.GetSpanId())] = true
			perService[s.service]++
		}
	}
	for _, name := range stack.Names {
		if perService["whistle-"+name] == 0 {
			t.Errorf("no span of whistle-%s in the ticket's trace %s (spans per service: %v)", name, traceID, perService)
		}
	}
	t.Logf("%d spans exported; the ticket's trace %s holds %d: %v", len(spans), traceID, len(ticket), perService)
	var roots []string
	for _, s := range ticket {
		if len(s.GetParentSpanId()) == 0 {
			roots = append(roots, s.GetName())
		} else if !ids[hex.EncodeToString(s.GetParentSpanId())] {
			t.Errorf("span %q of %s hangs from span %x, which is not in the ticket's trace", s.GetName(), s.service, s.GetParentSpanId())
		}
	}
	if len(roots) != 1 || roots[0] != "whistle.v1.IntakeService/Report" {
		t.Errorf("the ticket's trace begins with %v, want the Report call alone", roots)
	}
	return ticket
}

// checkRPCSpans asserts that every API's calls are server spans described as
// the conventions say, and that work a caller starts on the ticket (accept,
// resolve, evaluate) runs in the ticket's trace, linked to the caller's.
func checkRPCSpans(t *testing.T, spans []exported, traceID string) {
	t.Helper()
	served := map[string]bool{}       // gRPC service
	callTraces := map[string]string{} // trace id → method, of the calls in other traces
	for _, s := range spans {
		a := attrs(s.GetAttributes())
		if s.GetKind() != tracepb.Span_SPAN_KIND_SERVER || (a["rpc.system.name"] == "" && a["rpc.system"] == "") {
			continue
		}
		service, method := rpcOf(a)
		if first(a["rpc.system.name"], a["rpc.system"]) != "grpc" || service == "" || method == "" || s.GetName() != service+"/"+method {
			t.Errorf("RPC span %q: %v", s.GetName(), a)
			continue
		}
		if s.service != "whistle-api" {
			t.Errorf("RPC span %q from %s, want whistle-api (the shared gRPC server)", s.GetName(), s.service)
		}
		served[service] = true
		if tid := hex.EncodeToString(s.GetTraceId()); tid != traceID {
			callTraces[tid] = service + "/" + method
		}
	}
	for _, want := range []string{"Intake", "Dispatch", "Response", "Evaluation", "Monitoring"} {
		if !served["whistle.v1."+want+"Service"] {
			t.Errorf("no RPC span of whistle.v1.%sService (served: %v)", want, served)
		}
	}
	linked := map[string]bool{}
	for _, s := range spans {
		if hex.EncodeToString(s.GetTraceId()) != traceID {
			continue
		}
		for _, l := range s.GetLinks() {
			if m := callTraces[hex.EncodeToString(l.GetTraceId())]; m != "" {
				linked[m] = true
			}
		}
	}
	for _, m := range []string{"whistle.v1.ResponseService/Accept", "whistle.v1.ResponseService/Resolve", "whistle.v1.EvaluationService/Evaluate"} {
		if !linked[m] {
			t.Errorf("no span of the ticket's trace links to the %s call (linked: %v)", m, linked)
		}
	}
}

// rpcOf returns the gRPC service and method a span names: rpc.method
// "pkg.Service/Method" by the current conventions, rpc.service and
// rpc.method by the older ones (OTEL_SEMCONV_STABILITY_OPT_IN=rpc/old).
func rpcOf(a map[string]string) (service, method string) {
	if s, m, ok := strings.Cut(a["rpc.method"], "/"); ok {
		return s, m
	}
	return a["rpc.service"], a["rpc.method"]
}

// checkMessagingSpans asserts that each of the ticket's events was published
// and processed in the ticket's trace, in spans named and described as the
// conventions say.
func checkMessagingSpans(t *testing.T, spans []exported, traceID string, eventTypes map[string]string) {
	t.Helper()
	published, processed := map[string]int{}, map[string]int{}
	for _, s := range spans {
		a := attrs(s.GetAttributes())
		if a["messaging.system"] == "" {
			continue
		}
		id, dest, op := a["messaging.message.id"], a["messaging.destination.name"], a["messaging.operation.name"]
		if a["messaging.system"] != "nats" || id == "" || dest == "" || s.GetName() != op+" "+dest {
			t.Errorf("messaging span %q: %v", s.GetName(), a)
			continue
		}
		typ, ours := eventTypes[id]
		if !ours {
			continue // another event (the org tree)
		}
		if !strings.HasSuffix(dest, ".v1."+typ) {
			t.Errorf("span %q carries %s event %s on %s", s.GetName(), typ, id, dest)
		}
		if tid := hex.EncodeToString(s.GetTraceId()); tid != traceID {
			t.Errorf("span %q of %s for the ticket's %s event is in trace %s, the ticket's is %s", s.GetName(), s.service, typ, tid, traceID)
		}
		switch {
		case s.GetKind() == tracepb.Span_SPAN_KIND_PRODUCER && first(a["messaging.operation.type"], a["messaging.operation"]) == "send":
			published[id]++
		case s.GetKind() == tracepb.Span_SPAN_KIND_CONSUMER && first(a["messaging.operation.type"], a["messaging.operation"]) == "process" &&
			a["messaging.consumer.group.name"] != "":
			processed[id]++
		default:
			t.Errorf("messaging span %q is a %s span: %v", s.GetName(), s.GetKind(), a)
		}
	}
	for id, typ := range eventTypes {
		if published[id] == 0 || processed[id] == 0 {
			t.Errorf("%s event %s: %d publish and %d process spans, want some of each", typ, id, published[id], processed[id])
		}
	}
}

// checkDatabaseSpans asserts that every service's database work on the
// ticket shows in its trace as client spans described as the conventions say.
func checkDatabaseSpans(t *testing.T, ticket []exported, database string) {
	t.Helper()
	perService := map[string]int{}
	for _, s := range ticket {
		a := attrs(s.GetAttributes())
		if first(a["db.system.name"], a["db.system"]) == "" {
			continue
		}
		statement := s.GetName() != "connect" && s.GetName() != "batch start" // pgx's other spans
		if first(a["db.system.name"], a["db.system"]) != "postgresql" || s.GetKind() != tracepb.Span_SPAN_KIND_CLIENT ||
			statement && first(a["db.query.text"], a["db.statement"]) == "" ||
			a["db.namespace"] != database || a["server.address"] == "" {
			t.Errorf("database span %q of %s: kind %s, %v", s.GetName(), s.service, s.GetKind(), a)
		}
		perService[s.service]++
	}
	for _, name := range stack.Names {
		if perService["whistle-"+name] == 0 {
			t.Errorf("no database span of whistle-%s in the ticket's trace (per service: %v)", name, perService)
		}
	}
}

// attrs flattens OTLP attributes to strings.
func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.GetKey()] = v.StringValue
		default:
			m[kv.GetKey()] = kv.GetValue().String()
		}
	}
	return m
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
