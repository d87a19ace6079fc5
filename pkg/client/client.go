// Package client is the thin Go client of Whistle for department handlers'
// tools and for other government systems (12345 platforms, grid systems).
//
// It wraps the IntakeService and ResponseService APIs (and, for a ticket
// ended before work starts, DispatchService's) with typed methods that
// name every mutating call with a fresh request id (or idempotency key), so
// that the client may retry a call safely: it retries, with exponential
// backoff and jitter, only when the server is unavailable. Watch follows a
// department's inbox and reconnects and resumes by itself.
//
//	c, err := client.Dial(ctx, "whistle.example.gov:7000", client.WithTLS(nil), client.WithToken(token))
//	if err != nil { … }
//	defer c.Close()
//	ticket, _, err := c.Report(ctx, &whistlev1.ReportRequest{…})
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/retry"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
)

// Client talks to a Whistle deployment. It is safe for concurrent use.
type Client struct {
	conn     *grpc.ClientConn
	intake   whistlev1.IntakeServiceClient
	dispatch whistlev1.DispatchServiceClient
	response whistlev1.ResponseServiceClient
	o        options
}

type options struct {
	tls         *tls.Config
	token       func(ctx context.Context) (string, error)
	retries     uint
	backoff     time.Duration
	maxBackoff  time.Duration
	dialOptions []grpc.DialOption
}

// Option configures Dial.
type Option func(*options)

// WithTLS makes the connection use TLS with cfg (nil: the system's roots).
// Without it the connection is plaintext, which suits a local `whistle dev`
// or a service mesh that encrypts for you.
func WithTLS(cfg *tls.Config) Option {
	return func(o *options) {
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		o.tls = cfg
	}
}

// WithToken sends token as "authorization: Bearer <token>" on every call.
func WithToken(token string) Option {
	return WithTokenSource(func(context.Context) (string, error) { return token, nil })
}

// WithTokenSource asks src for the bearer token of each call (to refresh it).
func WithTokenSource(src func(ctx context.Context) (string, error)) Option {
	return func(o *options) { o.token = src }
}

// WithRetry sets how often a call refused as unavailable is retried
// (default 5) and the first wait (default 100 ms; it doubles, with ±20 %
// jitter, up to 5 s).
func WithRetry(retries uint, firstWait time.Duration) Option {
	return func(o *options) { o.retries, o.backoff = retries, firstWait }
}

// WithDialOptions adds gRPC dial options.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOptions = append(o.dialOptions, opts...) }
}

// Dial prepares a client for addr ("host:port"). It does not wait for the
// server: the first call connects, and calls made while the server is
// unreachable are retried.
func Dial(ctx context.Context, addr string, opts ...Option) (*Client, error) {
	o := options{retries: 5, backoff: 100 * time.Millisecond, maxBackoff: 5 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	creds := insecure.NewCredentials()
	if o.tls != nil {
		creds = credentials.NewTLS(o.tls)
	}
	dial := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler()),
		grpc.WithChainUnaryInterceptor(retry.UnaryClientInterceptor(
			retry.WithCodes(codes.Unavailable),
			retry.WithMax(o.retries+1), // attempts, counting the first
			retry.WithBackoff(retry.BackoffExponentialWithJitterBounded(o.backoff, 0.2, o.maxBackoff)),
		)),
	}
	if o.token != nil {
		dial = append(dial, grpc.WithPerRPCCredentials(bearer{src: o.token, secure: o.tls != nil}))
	}
	conn, err := grpc.NewClient(addr, append(dial, o.dialOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("whistle client for %q: %w", addr, err)
	}
	return &Client{conn: conn, intake: whistlev1.NewIntakeServiceClient(conn), dispatch: whistlev1.NewDispatchServiceClient(conn),
		response: whistlev1.NewResponseServiceClient(conn), o: o}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Conn returns the connection, for the other services' generated clients
// (DispatchService, EvaluationService, MonitoringService).
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// bearer sends a bearer token with each call.
type bearer struct {
	src    func(ctx context.Context) (string, error)
	secure bool
}

func (b bearer) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	if key, ok := ctx.Value(apiKeyCtx{}).(string); ok {
		return map[string]string{auth.APIKeyHeader: key}, nil
	}
	tok, err := b.src(ctx)
	if err != nil {
		return nil, fmt.Errorf("whistle client token: %w", err)
	}
	return map[string]string{"authorization": "Bearer " + tok}, nil
}

func (b bearer) RequireTransportSecurity() bool { return b.secure }

type apiKeyCtx struct{}

// WithAPIKey returns ctx making the client's calls with an API key (an
// Open311 system's, auth.APIKeyHeader) instead of its bearer token. Only a
// client dialled with a token source (WithToken) sends credentials.
func WithAPIKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, apiKeyCtx{}, key)
}

// requestID returns id, or a new one when it is empty.
func requestID(id string) string {
	if id == "" {
		return ids.New()
	}
	return id
}

// ErrStop, returned by a Watch handler, ends the watch without an error.
var ErrStop = errors.New("stop watching")
