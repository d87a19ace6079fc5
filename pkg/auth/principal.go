// Package auth establishes who calls Whistle: a principal (subject, the org
// unit it acts for, its roles) taken from a bearer token (a JWT signed with
// Ed25519 or ECDSA, verified against a JWKS), from a client certificate
// (mutual TLS), or, for a resident, from nothing but a one-time evaluation
// code. What a principal may do is decided elsewhere (pkg/policy).
package auth

import (
	"context"
	"fmt"
	"slices"
)

// Role is what a principal does in the city.
type Role string

// The roles.
const (
	// RoleReporter is a grid worker or a community that blows the whistle.
	RoleReporter Role = "reporter"
	// RoleCommunityOfficer handles a community's tickets and judges their results.
	RoleCommunityOfficer Role = "community_officer"
	// RoleStreetOfficer triages, arbitrates and decides extensions in a street.
	RoleStreetOfficer Role = "street_officer"
	// RoleDepartmentHandler answers a department's tickets.
	RoleDepartmentHandler Role = "department_handler"
	// RoleDepartmentLead is a handler who also sees the department's figures.
	RoleDepartmentLead Role = "department_lead"
	// RoleMonitor reads figures and timelines, read-only.
	RoleMonitor Role = "monitor"
	// RoleAdmin manages the catalog, rebuilds read models and reads the audit log.
	RoleAdmin Role = "admin"
	// RoleSystem is another government system acting within an org subtree.
	RoleSystem Role = "system"
	// RoleResident is a resident judging a result with a one-time evaluation code.
	RoleResident Role = "resident"
)

// Roles lists every role, in the order above.
var Roles = []Role{RoleReporter, RoleCommunityOfficer, RoleStreetOfficer, RoleDepartmentHandler, RoleDepartmentLead,
	RoleMonitor, RoleAdmin, RoleSystem, RoleResident}

// ParseRole reads a role's name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (one of %v)", s, Roles)
}

// Principal is an authenticated caller.
type Principal struct {
	// Subject identifies the caller, e.g. "u-4711" or a certificate's name.
	Subject string
	// OrgUnit is the org unit it acts for: a grid, community, street,
	// district, department or the city.
	OrgUnit string
	// Roles it holds.
	Roles []Role
	// Via says how it was established: "jwt", "mtls", "code" or "api-key".
	Via string
}

// Has reports whether the principal holds a role.
func (p Principal) Has(r Role) bool { return slices.Contains(p.Roles, r) }

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal ctx carries, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
