// Package stacktest runs all five services for a test: on a new database, a
// JetStream of the test's own (see natstest) and a loopback port, with every
// span kept in memory. As in `whistle dev`, the in-process NATS server
// admits only one user per service, each allowed to publish only what its
// service emits, and each service logs in as its own.
package stacktest

import (
	"cmp"
	"context"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/evalcode"
	"github.com/whistle-civic/whistle/pkg/natsserver"
	"github.com/whistle-civic/whistle/pkg/natstest"
	"github.com/whistle-civic/whistle/pkg/objstore"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/pkg/telemetry"
	"github.com/whistle-civic/whistle/services/dispatch"
	"github.com/whistle-civic/whistle/services/evaluation"
	"github.com/whistle-civic/whistle/services/intake"
	"github.com/whistle-civic/whistle/services/monitoring"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
	"github.com/whistle-civic/whistle/cmd/internal/stack"
)

// Running is a stack started for a test. It authenticates every call like a
// deployment: tokens are minted with a key of the test's own (KeyFile).
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
	// KeyFile holds the private key (a JWK) tokens are signed with; JWKS
	// the public keys the stack verifies them with.
	KeyFile, JWKS string
	// City is the root org unit of the sample catalog.
	City string
	// Stack is the running stack (its health, its services).
	Stack *stack.Stack
	// NATS is the JetStream the stack runs on, with its users.
	NATS *natstest.Env

	t      testing.TB
	signer *auth.Signer
	mu     sync.Mutex
	conns  map[string]*grpc.ClientConn
}

// Token mints a token for a principal with one role, acting for an org unit.
func (r *Running) Token(role auth.Role, orgUnit string) string {
	tok, err := r.signer.Mint(auth.Claims{Subject: "test-" + string(role) + "@" + orgUnit, OrgUnit: orgUnit,
		Roles: []auth.Role{role}, Audience: "whistle"})
	if err != nil {
		r.t.Fatal(err)
	}
	return tok
}

// As returns clients that call as a principal with one role, acting for an
// org unit (Clients carry no credentials at all). A resident has no
// credentials, only a ticket's evaluation code: their clients are Clients.
func (r *Running) As(role auth.Role, orgUnit string) loop.Clients {
	if role == auth.RoleResident {
		return r.Clients
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key := string(role) + "@" + orgUnit
	if conn, ok := r.conns[key]; ok {
		return loop.NewClients(conn)
	}
	conn, err := grpc.NewClient(r.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(bearer(r.Token(role, orgUnit))))
	if err != nil {
		r.t.Fatal(err)
	}
	r.conns[key] = conn
	return loop.NewClients(conn)
}

// LoopAs is loop.Options.As for this stack: ctx carrying a principal's token.
func (r *Running) LoopAs(ctx context.Context, role auth.Role, orgUnit string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+r.Token(role, orgUnit))
}

// bearer sends a token with every call, over plain connections too.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

// Options change the stack a test runs.
type Options struct {
	// Clock for every service (a clock.Fake drives deadlines); default the real one.
	Clock clock.Clock
	// Dispatch configures the dispatch service.
	Dispatch dispatch.Config
	// Evaluation configures the evaluation service (its codes and
	// calendar are the stack's unless set).
	Evaluation evaluation.Config
	// Monitoring configures the monitoring service.
	Monitoring monitoring.Config
	// NATS is the JetStream to run on (e.g. a server the test stops and
	// restarts); default: one of the test's own that admits only the
	// services' users and NATSUsers (natstest.NewSecured).
	NATS *natstest.Env
	// NATSUsers are more users of the default JetStream (a tool's).
	NATSUsers []natsserver.User
	// Intake configures the intake service; without a media store it keeps
	// photos in a folder of the test's.
	Intake intake.Config
	// DatabaseURL is the database to run on (another stack's, to restart
	// it); default a new migrated database of the test's.
	DatabaseURL string
}

// Start runs the stack until the test ends.
func Start(t testing.TB) *Running { return StartWith(t, Options{}) }

// StartWith runs the stack with options until the test ends.
func StartWith(t testing.TB, o Options) *Running {
	t.Helper()
	ctx := context.Background()
	spans := tracetest.NewInMemoryExporter()
	env := o.NATS
	if env == nil {
		env = natstest.NewSecured(t, o.NATSUsers...)
	}
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
	codes, err := evalcode.Ensure(filepath.Join(t.TempDir(), "evaluation-code.keys"))
	if err != nil {
		t.Fatal(err)
	}
	if o.Intake.Media.Store == nil {
		dir, err := objstore.OpenDir(filepath.Join(t.TempDir(), "media"))
		if err != nil {
			t.Fatal(err)
		}
		o.Intake.Media.Store = dir
	}
	cfg := stack.Config{
		DatabaseURL:     cmp.Or(o.DatabaseURL, pgtest.NewDatabase(t)),
		Intake:          o.Intake,
		EvaluationCodes: codes,
		Bus:             env.Config,
		NATSAuth:        env.Auths(),
		NATSOptions:     env.Options,
		Log:             platformtest.Logger(t),
		Clock:           o.Clock,
		Dispatch:        o.Dispatch,
		Evaluation:      o.Evaluation,
		Monitoring:      o.Monitoring,
		Auth: &auth.Authenticator{Verifier: verifier, Public: func(m string) bool { return strings.HasPrefix(m, "/grpc.health.v1.") },
			Anonymous: func(_ context.Context, method string, req any) (auth.Principal, bool) {
				return evaluation.Resident(method, req)
			}},
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
	r := &Running{Addr: lis.Addr().String(), Clients: loop.NewClients(conn), Spans: spans, Config: cfg, KeyFile: keyFile,
		JWKS: jwks, City: "hh", Stack: st, NATS: env, t: t, signer: signer, conns: map[string]*grpc.ClientConn{}}
	t.Cleanup(func() {
		_ = conn.Close()
		for _, c := range r.conns {
			_ = c.Close()
		}
		if err := st.Shutdown(context.Background(), 10*time.Second); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return r
}
