package grpcserver

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc"

	"github.com/whistle-civic/whistle/pkg/apperr"
	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/policy"
)

// OrgUnits tells whether an org unit is in the active org tree
// (*orgtree.Tree does).
type OrgUnits interface {
	// Known reports whether the unit is in the tree; it fails while no tree
	// is known yet.
	Known(ctx context.Context, id string) (bool, error)
}

// ErrUnknownOrgUnit: the caller's credentials act for an org unit that is
// not in the active org tree.
var ErrUnknownOrgUnit = apperr.New(apperr.PermissionDenied, "your credentials act for an org unit that is not in the active org tree")

// authorizer refuses, before anything else runs, a call that none of the
// caller's roles may make anywhere (pkg/policy), and a caller acting for an
// org unit the active org tree does not hold (one that never was, or that a
// newer catalog removed): such a caller sees nothing, whatever its roles.
// Where the caller may make the call is for the service to decide once it
// knows what the call touches. On a server built without authentication it
// marks the call unenforced instead.
type authorizer struct {
	enforced bool
	units    OrgUnits // nil: units are not checked
}

func (a authorizer) authorize(ctx context.Context, method string) (context.Context, error) {
	if !a.enforced {
		return policy.Unenforced(ctx), nil
	}
	p, ok := auth.FromContext(ctx)
	if !ok {
		return ctx, nil // a public call (health, maybe reflection): the authenticator let it through
	}
	// Reflection, when served, is any authenticated caller's (Options.Reflection).
	if !strings.HasPrefix(method, "/grpc.reflection.") {
		if err := policy.Allowed(p, method); err != nil {
			return ctx, err
		}
	}
	if a.units == nil || p.Via == "code" { // a resident has no org unit: the service checks the code
		return ctx, nil
	}
	known, err := a.units.Known(ctx, p.OrgUnit)
	if err != nil {
		return ctx, err
	}
	if !known {
		return ctx, fmt.Errorf("%w: %q (get credentials for a unit of the active catalog: whistlectl catalog show)", ErrUnknownOrgUnit, p.OrgUnit)
	}
	return ctx, nil
}

func (a authorizer) unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		ctx, err := a.authorize(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
}

func (a authorizer) stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		ctx, err := a.authorize(ss.Context(), info.FullMethod)
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

// PrincipalKeys keys a rate limit by the authenticated caller's subject. A
// resident (authenticated by an evaluation code alone, so every resident
// looks alike) is limited per ticket and per address instead: one flood
// neither locks every resident of the city out nor comes from one address
// unchecked. Calls without a principal are keyed by the peer's address.
func PrincipalKeys(ctx context.Context, req any) []string {
	p, ok := auth.FromContext(ctx)
	switch {
	case !ok:
		return []string{PeerKey(ctx)}
	case p.Via == "code":
		keys := []string{"code-peer:" + PeerKey(ctx)}
		if r, ok := req.(interface{ GetTicketId() string }); ok {
			keys = append(keys, "code-ticket:"+r.GetTicketId())
		}
		return keys
	}
	return []string{"principal:" + p.Via + ":" + p.Subject}
}
