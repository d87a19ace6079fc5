// Package grpcserver builds Whistle's gRPC servers the same way everywhere:
// OpenTelemetry on every call, per-caller rate limits on mutating calls
// (RateLimit), request validation in one layer (requests that do not decode
// and text with control characters or invalid UTF-8 are refused with
// InvalidArgument, then the proto annotations are checked by protovalidate),
// panic recovery, errors mapped to status codes in one place (ToStatus) and
// logged once with the trace id, the health service, reflection when asked
// for, and a graceful stop with a deadline.
package grpcserver

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"time"

	"buf.build/go/protovalidate"
	pvinterceptor "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/protovalidate"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/telemetry"
)

// Options configure a server.
type Options struct {
	// Log receives one line per failed call. Default: discard.
	Log *slog.Logger
	// Telemetry traces and measures every call. Default: none.
	Telemetry *telemetry.Telemetry
	// ServerOptions are appended (e.g. TLS credentials).
	ServerOptions []grpc.ServerOption
	// RateLimit limits mutating calls per caller. Default: off. Its Key
	// defaults to PrincipalKey when Auth is set.
	RateLimit RateLimit
	// Auth establishes who calls; every call but the public ones must carry
	// a principal, whose roles pkg/policy checks before the call runs.
	// Nil serves without authentication (tests of one service): calls are
	// then marked policy.Unenforced.
	Auth *auth.Authenticator
	// OrgUnits, with Auth, refuses callers acting for an org unit that is
	// not in the active org tree (PermissionDenied), before the call runs.
	// Default (nil): not checked.
	OrgUnits OrgUnits
	// Reflection registers the gRPC reflection service, which describes
	// every API the server carries (grpcurl, Postman). Default false: the
	// server describes nothing. With Auth set, reflection calls need
	// credentials like any other call (unless Auth.Public lets them
	// through), and any authenticated caller may make them, whatever its
	// roles: the APIs' shape is public in proto/ anyway.
	Reflection bool
}

// Server is a gRPC server with health (and reflection, when asked for) registered.
type Server struct {
	// GRPC is the underlying server; register services on it.
	GRPC   *grpc.Server
	health *health.Server
}

// New returns a server; register services, call SetServing, then Serve.
// Unary calls pass, in order: error mapping, panic recovery, authentication
// (when Auth is set) and the policy's check of the caller's roles, the rate
// limit (when on), the request checks (decoding, CheckStrings) and
// protovalidate. Streaming calls pass the same layers but the rate limit, the
// request checks running on every message received. New fails when
// o.RateLimit is invalid.
func New(o Options) (*Server, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Telemetry == nil {
		o.Telemetry = telemetry.Noop()
	}
	validator, err := protovalidate.New()
	if err != nil {
		return nil, fmt.Errorf("request validator: %w", err)
	}
	codec, err := newRequestCodec()
	if err != nil {
		return nil, fmt.Errorf("request codec: %w", err)
	}
	if o.Auth != nil && o.RateLimit.Keys == nil {
		o.RateLimit.Keys = PrincipalKeys
	}
	limiter, err := newLimiter(o.RateLimit)
	if err != nil {
		return nil, err
	}
	rec := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		o.Log.ErrorContext(ctx, "panic in RPC handler", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return fmt.Errorf("panic: %v", p)
	})
	unary := []grpc.UnaryServerInterceptor{unaryErrors(o.Log), recovery.UnaryServerInterceptor(rec)}
	stream := []grpc.StreamServerInterceptor{streamErrors(o.Log), recovery.StreamServerInterceptor(rec)}
	if o.Auth != nil {
		unary, stream = append(unary, o.Auth.UnaryInterceptor()), append(stream, o.Auth.StreamInterceptor())
	}
	authz := authorizer{enforced: o.Auth != nil, units: o.OrgUnits}
	unary = append(unary, authz.unary())
	stream = append(stream, authz.stream(), streamRequestChecks(codec), pvinterceptor.StreamServerInterceptor(validator))
	if limiter != nil {
		unary = append(unary, limiter.unary())
	}
	unary = append(unary, unaryRequestChecks(codec), pvinterceptor.UnaryServerInterceptor(validator))
	opts := append([]grpc.ServerOption{
		grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(o.Telemetry.Tracer),
			otelgrpc.WithMeterProvider(o.Telemetry.Meter),
			otelgrpc.WithPropagators(telemetry.Propagator))),
		grpc.ForceServerCodecV2(codec),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
	}, o.ServerOptions...)
	s := &Server{GRPC: grpc.NewServer(opts...), health: health.NewServer()}
	healthpb.RegisterHealthServer(s.GRPC, s.health)
	if o.Reflection {
		reflection.Register(s.GRPC)
	}
	return s, nil
}

// SetServing marks services (full names, e.g. "whistle.v1.IntakeService") and
// the server as a whole ("") as serving in the health service.
func (s *Server) SetServing(services ...string) {
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	for _, name := range services {
		s.health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
}

// Serve accepts connections on lis until Stop.
func (s *Server) Serve(lis net.Listener) error { return s.GRPC.Serve(lis) }

// Stop marks the server not serving, lets calls in flight finish for up to
// timeout, then cuts the rest.
func (s *Server) Stop(timeout time.Duration) {
	s.health.Shutdown()
	done := make(chan struct{})
	go func() {
		s.GRPC.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(timeout):
		s.GRPC.Stop()
		<-done
	}
}

func unaryErrors(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		resp, err := h(ctx, req)
		if err != nil {
			return nil, logged(ctx, log, info.FullMethod, err)
		}
		return resp, nil
	}
}

func streamErrors(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if err := h(srv, ss); err != nil {
			return logged(ss.Context(), log, info.FullMethod, err)
		}
		return nil
	}
}

// logged maps err to a status and logs it once: server faults at error level,
// a dependency that is down (Unavailable: it passes by itself) at warn level,
// caller mistakes at info level.
func logged(ctx context.Context, log *slog.Logger, method string, err error) error {
	st := ToStatus(ctx, err)
	level := slog.LevelInfo
	switch st.Code() {
	case codes.Internal, codes.Unknown, codes.DataLoss, codes.DeadlineExceeded:
		level = slog.LevelError
	case codes.Unavailable:
		level = slog.LevelWarn
	case codes.Canceled:
		level = slog.LevelDebug
	}
	log.Log(ctx, level, "rpc failed", "method", method, "code", st.Code().String(), "err", err.Error())
	return st.Err()
}
