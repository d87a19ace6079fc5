package grpcserver

import (
	"context"
	"strings"

	"google.golang.org/grpc"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/policy"
)

// authorize refuses, before anything else runs, a call that none of the
// caller's roles may make anywhere (pkg/policy); where the caller may make
// it is for the service to decide once it knows what the call touches. On a
// server built without authentication it marks the call unenforced instead.
func authorize(ctx context.Context, enforced bool, method string) (context.Context, error) {
	if !enforced {
		return policy.Unenforced(ctx), nil
	}
	p, ok := auth.FromContext(ctx)
	switch {
	case !ok:
		return ctx, nil // a public call (health, maybe reflection): the authenticator let it through
	case strings.HasPrefix(method, "/grpc.reflection."):
		return ctx, nil // reflection, when served, is any authenticated caller's (Options.Reflection)
	}
	return ctx, policy.Allowed(p, method)
}

func unaryAuthorize(enforced bool) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		ctx, err := authorize(ctx, enforced, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
}

func streamAuthorize(enforced bool) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		ctx, err := authorize(ss.Context(), enforced, info.FullMethod)
		if err != nil {
			return err
		}
		return h(srv, &authorizedStream{ServerStream: ss, ctx: ctx})
	}
}

type authorizedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *authorizedStream) Context() context.Context { return s.ctx }

// PrincipalKey keys a rate limit by the authenticated caller's subject, or by
// the peer's address for calls without one.
func PrincipalKey(ctx context.Context) string {
	if p, ok := auth.FromContext(ctx); ok {
		return "principal:" + p.Via + ":" + p.Subject
	}
	return PeerKey(ctx)
}
