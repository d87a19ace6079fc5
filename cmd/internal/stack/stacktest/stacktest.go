// Package stacktest runs all five services for a test: on a new database, a
// JetStream of the test's own (see natstest) and a loopback port, with every
// span kept in memory.
package stacktest

import (
	"context"
	"net"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/natstest"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/pkg/telemetry"
	"github.com/whistle-civic/whistle/services/dispatch"
	"github.com/whistle-civic/whistle/services/monitoring"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
	"github.com/whistle-civic/whistle/cmd/internal/stack"
)

// Running is a stack started for a test.
type Running struct {
	// Addr is the gRPC address serving all five APIs.
	Addr string
	// Clients talk to it.
	Clients loop.Clients
	// Spans holds every span every service ended.
	Spans *tracetest.InMemoryExporter
	// Config is the stack's configuration, to build more of it (e.g. an idle
	// stack for a maintenance command) on the same database and JetStream.
	Config stack.Config
}

// Options change the stack a test runs.
type Options struct {
	// Clock for every service (a clock.Fake drives deadlines); default the real one.
	Clock clock.Clock
	// Dispatch configures the dispatch service.
	Dispatch dispatch.Config
	// Monitoring configures the monitoring service.
	Monitoring monitoring.Config
}

// Start runs the stack until the test ends.
func Start(t *testing.T) *Running { return StartWith(t, Options{}) }

// StartWith runs the stack with options until the test ends.
func StartWith(t *testing.T, o Options) *Running {
	t.Helper()
	ctx := context.Background()
	spans := tracetest.NewInMemoryExporter()
	env := natstest.New(t)
	cfg := stack.Config{
		DatabaseURL: pgtest.NewDatabase(t),
		Bus:         env.Config,
		NATSOptions: env.Options,
		Log:         platformtest.Logger(t),
		Clock:       o.Clock,
		Dispatch:    o.Dispatch,
		Monitoring:  o.Monitoring,
		Telemetry: func(ctx context.Context, name string) (*telemetry.Telemetry, error) {
			return telemetry.Setup(ctx, telemetry.Options{ServiceName: name, SpanExporter: spans})
		},
	}
	st, err := stack.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = st.Server.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		if err := st.Shutdown(context.Background(), 10*time.Second); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &Running{Addr: lis.Addr().String(), Clients: loop.NewClients(conn), Spans: spans, Config: cfg}
}
