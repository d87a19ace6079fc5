package auth

import (
	"context"
	"crypto/x509"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// Authenticator establishes the principal of each gRPC call and puts it in
// the call's context (WithPrincipal). It tries, in order:
//
//  1. an "authorization: Bearer <jwt>" metadata entry, checked by Verifier,
//     or an "x-whistle-api-key" entry (an Open311 system's key), checked by
//     APIKeys — never both;
//  2. a client certificate from a verified TLS chain, mapped by Certs;
//  3. Public(method): the call passes with no principal (health, reflection);
//  4. Anonymous: a principal the service derives from the request itself
//     (a resident's one-time evaluation code).
//
// Credentials that are sent but fail (a bad token, an unmapped certificate)
// fail the call even on a Public method. Failures are errors wrapping
// ErrUnauthenticated that are also gRPC statuses of code Unauthenticated.
type Authenticator struct {
	// Verifier checks bearer tokens. Default (nil): tokens are refused.
	Verifier *Verifier
	// Certs maps client certificates. Default (nil): certificates are ignored.
	Certs *CertMap
	// Public reports whether a method (full name, "/pkg.Service/Method")
	// needs no credentials. Default (nil): none.
	Public func(fullMethod string) bool
	// Anonymous may admit a call without credentials from its request (nil
	// for a streaming call, whose messages come later). Default (nil): none.
	Anonymous func(ctx context.Context, fullMethod string, req any) (Principal, bool)
	// APIKeys checks an API key (APIKeyHeader) sent to a method and returns
	// the principal it stands for; its errors fail the call as they are (they
	// should be gRPC statuses: Unauthenticated for an unknown or revoked key,
	// PermissionDenied for a method keys may not call, ResourceExhausted over
	// the key's rate). Default (nil): keys are refused. Set it before the
	// server serves.
	APIKeys func(ctx context.Context, fullMethod, key string) (Principal, error)
}

// APIKeyHeader is the metadata entry that carries an API key.
const APIKeyHeader = "x-whistle-api-key"

// UnaryInterceptor authenticates unary calls.
func (a *Authenticator) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		ctx, err := a.authenticate(ctx, info.FullMethod, req)
		if err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
}

// StreamInterceptor authenticates streaming calls; Anonymous sees a nil request.
func (a *Authenticator) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		ctx, err := a.authenticate(ss.Context(), info.FullMethod, nil)
		if err != nil {
			return err
		}
		return h(srv, &contextStream{ServerStream: ss, ctx: ctx})
	}
}

// contextStream is a server stream with a replaced context.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }

// authenticate returns ctx with the call's principal, or ctx unchanged for
// a public method, or an error.
func (a *Authenticator) authenticate(ctx context.Context, method string, req any) (context.Context, error) {
	token, hasToken, err := bearerToken(ctx)
	if err != nil {
		return ctx, err
	}
	key, hasKey, err := apiKey(ctx)
	switch {
	case err != nil:
		return ctx, err
	case hasToken && hasKey:
		return ctx, unauthenticated("both a bearer token and an API key: send one credential")
	case hasToken:
		return a.withToken(ctx, token)
	case hasKey:
		return a.withAPIKey(ctx, method, key)
	}
	if cert := verifiedPeerCert(ctx); cert != nil && a.Certs != nil {
		p, err := a.Certs.Principal(cert)
		if err != nil {
			return ctx, err
		}
		return WithPrincipal(ctx, p), nil
	}
	if a.Public != nil && a.Public(method) {
		return ctx, nil
	}
	if a.Anonymous != nil {
		if p, ok := a.Anonymous(ctx, method, req); ok {
			return WithPrincipal(ctx, p), nil
		}
	}
	return ctx, unauthenticated("no credentials: send a bearer token (whistlectl: --token or the token file in the config) or a client certificate")
}

// withToken verifies a bearer token and puts its principal in ctx.
func (a *Authenticator) withToken(ctx context.Context, token string) (context.Context, error) {
	if a.Verifier == nil {
		return ctx, unauthenticated("this server does not accept bearer tokens: connect with a client certificate")
	}
	p, err := a.Verifier.Verify(token)
	if err != nil {
		return ctx, err
	}
	return WithPrincipal(ctx, p), nil
}

// withAPIKey checks an API key and puts its principal in ctx.
func (a *Authenticator) withAPIKey(ctx context.Context, method, key string) (context.Context, error) {
	if a.APIKeys == nil {
		return ctx, unauthenticated("this server does not accept API keys (they are for intake, through the Open311 gateway): send a bearer token")
	}
	p, err := a.APIKeys(ctx, method, key)
	if err != nil {
		return ctx, err
	}
	p.Via = "api-key"
	return WithPrincipal(ctx, p), nil
}

// apiKey returns the call's API key, if any; more than one, or an empty
// one, is an error.
func apiKey(ctx context.Context) (string, bool, error) {
	vals := metadata.ValueFromIncomingContext(ctx, APIKeyHeader)
	switch {
	case len(vals) == 0:
		return "", false, nil
	case len(vals) > 1:
		return "", false, unauthenticated("%d %s entries: send exactly one", len(vals), APIKeyHeader)
	case strings.TrimSpace(vals[0]) == "":
		return "", false, unauthenticated("an empty %s: send the key you were given", APIKeyHeader)
	}
	return strings.TrimSpace(vals[0]), true, nil
}

// bearerToken returns the token of the call's "authorization" metadata, if
// any; a value that is not "Bearer <token>" (scheme in any case), or more
// than one value, is an error.
func bearerToken(ctx context.Context) (string, bool, error) {
	vals := metadata.ValueFromIncomingContext(ctx, "authorization")
	if len(vals) == 0 {
		return "", false, nil
	}
	if len(vals) > 1 {
		return "", false, unauthenticated("%d authorization entries: send exactly one, \"Bearer <token>\"", len(vals))
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false, unauthenticated("authorization is not \"Bearer <token>\": send the token with that scheme")
	}
	return strings.TrimSpace(token), true, nil
}

// verifiedPeerCert returns the leaf of the first verified client
// certificate chain of the call's connection, if any.
func verifiedPeerCert(ctx context.Context) *x509.Certificate {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return nil
	}
	return info.State.VerifiedChains[0][0]
}
