package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
)

// world is what every check plays against: dev's endpoints, clients on one
// connection, dev's signing key, the tickets set up, and the record of every
// successful mutating call (for the audit check).
type world struct {
	out    io.Writer
	dev    *dev
	launch launcher // starts the other devs a check needs
	conn   *grpc.ClientConn
	c      loop.Clients
	keys   *keys
	calls  *recorder
	tokens sync.Map // subject → token
	runID  string
	seq    atomic.Int64
	// compared holds the cases whose NotFound was compared with a missing ticket's.
	compared sync.Map

	units   map[string]bool // every org unit and department of the active catalog
	catalog *whistlev1.GetCatalogResponse
	fx      *fixture
	secrets []string // what must never leak: fixture ticket ids and numbers
}

// callTimeout bounds each unary call the suite makes.
const callTimeout = 15 * time.Second

func newWorld(d *dev, out io.Writer) (*world, error) {
	k, err := loadKeys(d.data)
	if err != nil {
		return nil, err
	}
	w := &world{out: out, dev: d, keys: k, calls: &recorder{}}
	w.conn, err = grpc.NewClient(d.ends.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(w.calls.intercept))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", d.ends.GRPC, err)
	}
	w.c = loop.NewClients(w.conn)
	return w, nil
}

// dialFrom connects to dev from another loopback address (127.0.0.2): a
// second peer, as a second resident's phone would be.
func (w *world) dialFrom(local string) (loop.Clients, func(), error) {
	dialer := func(ctx context.Context, addr string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		return d.DialContext(ctx, "tcp", addr)
	}
	conn, err := grpc.NewClient("passthrough:///"+w.dev.ends.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(dialer), grpc.WithChainUnaryInterceptor(w.calls.intercept))
	if err != nil {
		return loop.Clients{}, nil, err
	}
	return loop.NewClients(conn), func() { _ = conn.Close() }, nil
}

func (w *world) close() { _ = w.conn.Close() }

type subjectKey struct{}

// as returns ctx carrying a token for role at unit, minted with dev's key;
// group names the check, so that each check has subjects (and rate limits)
// of its own.
func (w *world) as(ctx context.Context, group string, role auth.Role, unit string) context.Context {
	subject := fmt.Sprintf("adv-%s-%s@%s", group, role, unit)
	tok, ok := w.tokens.Load(subject)
	if !ok {
		t, err := w.keys.mint(subject, role, unit)
		if err != nil {
			panic(fmt.Sprintf("mint a token for %s: %v", subject, err)) // the claims are the suite's own
		}
		tok, _ = w.tokens.LoadOrStore(subject, t)
	}
	return withToken(context.WithValue(ctx, subjectKey{}, subject), tok.(string))
}

// admin is the city's administrator, for reading what changed.
func (w *world) admin(ctx context.Context) context.Context {
	return w.as(ctx, "observer", auth.RoleAdmin, city)
}

// withToken sends tok as the bearer token.
func withToken(ctx context.Context, tok string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

// anonymous is ctx without credentials (and without a subject).
func anonymous(ctx context.Context) context.Context { return ctx }

// call is one successful mutating call the suite made.
type call struct {
	method, subject, ticket string
	start, end              time.Time
}

// recorder remembers every successful mutating call (pkg/grpcserver's
// IsMutating decides which are), so that the audit check can look for the
// row each must have left.
type recorder struct {
	mu    sync.Mutex
	calls []call
}

func (r *recorder) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	start := time.Now()
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err != nil || !grpcserver.IsMutating(method) || noChange(reply) {
		return err
	}
	subject, _ := ctx.Value(subjectKey{}).(string)
	r.mu.Lock()
	r.calls = append(r.calls, call{method: method, subject: subject, ticket: ticketOf(req, reply), start: start, end: time.Now()})
	r.mu.Unlock()
	return nil
}

func (r *recorder) all() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

// noChange reports answers that say the call changed nothing (a repeated
// report, a catalog imported again), which need no audit row.
func noChange(reply any) bool {
	switch r := reply.(type) {
	case *whistlev1.ReportResponse:
		return !r.GetCreated()
	case *whistlev1.ImportCatalogResponse:
		return !r.GetCreated()
	case *whistlev1.ReviseCalendarResponse:
		return !r.GetCreated()
	}
	return false
}

// ticketOf finds the ticket a call is about: its request's ticket_id, or
// the ticket a report created.
func ticketOf(req, reply any) string {
	if m, ok := req.(proto.Message); ok {
		if fd := m.ProtoReflect().Descriptor().Fields().ByName("ticket_id"); fd != nil && fd.Kind() == protoreflect.StringKind {
			return m.ProtoReflect().Get(fd).String()
		}
	}
	if r, ok := reply.(*whistlev1.ReportResponse); ok {
		return r.GetTicket().GetId()
	}
	return ""
}
