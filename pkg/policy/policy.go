// Package policy decides what a principal may do, from one table (table.go)
// of role × action × scope, rather than from checks scattered through the
// services. An action is a gRPC method. The gRPC server asks Allowed before
// a call runs (may any of the caller's roles take this action at all?); a
// service asks Authorize once it knows where the ticket or org unit the call
// touches lies (is it within the caller's place?).
package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/whistle-civic/whistle/pkg/apperr"
	"github.com/whistle-civic/whistle/pkg/auth"
)

// The decisions that refuse.
var (
	// ErrNoPrincipal: the call carries no authenticated principal.
	ErrNoPrincipal = apperr.New(apperr.Unauthenticated,
		"no credentials: send a bearer token (whistlectl: --token, or the token file of its config)")
	// ErrForbidden: none of the caller's roles may take the action anywhere.
	ErrForbidden = apperr.New(apperr.PermissionDenied, "not allowed")
	// ErrOutsideUnit: the org unit named lies outside the caller's place.
	ErrOutsideUnit = apperr.New(apperr.PermissionDenied, "outside your org unit")
	// ErrOutOfScope: the ticket lies outside the caller's place. Services
	// answer it with their own "not found", so that nobody learns whether
	// a ticket exists outside their place.
	ErrOutOfScope = apperr.New(apperr.NotFound, "not found")
)

// Resource is where what a call touches lies.
type Resource struct {
	// Ticket is set when the resource is a ticket (refusals then read "not
	// found"); otherwise it is an org unit named in the request.
	Ticket bool
	// Areas are the org units it lies in: its grid (or itself) up to the city.
	Areas []string
	// Departments it is assigned to (lead and assisting), or the department named.
	Departments []string
	// Code is set when the request carries a resident's evaluation code.
	Code bool
	// ReportedFrom is where the ticket was reported from: the reporting org
	// unit up to the city (empty when the service does not know).
	ReportedFrom []string
}

// Allowed reports whether any of p's roles may take the action somewhere.
func Allowed(p auth.Principal, method string) error {
	for _, rule := range Table[method] {
		if p.Has(rule.Role) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s (roles %s) may not call %s", ErrForbidden, p.Subject, roleNames(p.Roles), short(method))
}

type unenforcedKey struct{}

// Unenforced marks ctx as served by a server built without authentication
// (a test of one service over bufconn): then every call is allowed and
// personal data shown. Production servers always authenticate.
func Unenforced(ctx context.Context) context.Context {
	return context.WithValue(ctx, unenforcedKey{}, true)
}

func unenforced(ctx context.Context) bool {
	v, _ := ctx.Value(unenforcedKey{}).(bool)
	return v
}

// Authorize decides whether the principal in ctx may take the action on the
// resource: some role of theirs must have a rule whose scope holds.
func Authorize(ctx context.Context, method string, res Resource) error {
	p, ok := auth.FromContext(ctx)
	if !ok {
		if unenforced(ctx) {
			return nil
		}
		return ErrNoPrincipal
	}
	if err := Allowed(p, method); err != nil {
		return err
	}
	if permits(p, Table[method], res) {
		return nil
	}
	if res.Ticket {
		return ErrOutOfScope
	}
	return fmt.Errorf("%w: you act for %s (roles %s), and what you named lies outside it", ErrOutsideUnit, p.OrgUnit, roleNames(p.Roles))
}

// SeesPersonalData reports whether the principal in ctx sees the personal
// data of a ticket's reporter unmasked.
func SeesPersonalData(ctx context.Context, res Resource) bool {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return unenforced(ctx)
	}
	return permits(p, PersonalData, res)
}

// Everywhere reports whether the principal in ctx may take the action
// wherever it lies (lists then need no filter by place).
func Everywhere(ctx context.Context, method string) bool {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return unenforced(ctx)
	}
	for _, rule := range Table[method] {
		if p.Has(rule.Role) && rule.Scope == Anywhere {
			return true
		}
	}
	return false
}

func permits(p auth.Principal, rules []Rule, res Resource) bool {
	for _, rule := range rules {
		if p.Has(rule.Role) && holds(rule.Scope, p, res) {
			return true
		}
	}
	return false
}

func holds(s Scope, p auth.Principal, res Resource) bool {
	switch s {
	case Anywhere:
		return true
	case InArea:
		return slices.Contains(res.Areas, p.OrgUnit)
	case InDepartment:
		return slices.Contains(res.Departments, p.OrgUnit)
	case WithCode:
		return res.Code
	case ReportedFrom:
		return slices.Contains(res.ReportedFrom, p.OrgUnit)
	}
	return false
}

func roleNames(roles []auth.Role) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return strings.Join(names, ",")
}

// short turns "/whistle.v1.IntakeService/Report" into "IntakeService.Report".
func short(method string) string {
	return strings.Replace(strings.TrimPrefix(method, "/whistle.v1."), "/", ".", 1)
}

// ErrNotYourUnit: a request names an actor other than the caller's org
// unit, or none.
var ErrNotYourUnit = apperr.New(apperr.PermissionDenied, "the request acts for another org unit")

// ActingAs checks that the actor a change names acts for the caller's org
// unit: nobody acts in another unit's name, and a change that names no unit
// is refused too (it would be recorded as nobody's). A resident (who has no
// org unit: the service checks their code) and a server without
// authentication are not checked.
func ActingAs(ctx context.Context, actorOrgUnit string) error {
	p, ok := auth.FromContext(ctx)
	if !ok {
		if unenforced(ctx) {
			return nil
		}
		return ErrNoPrincipal
	}
	switch {
	case p.Via == "code" || actorOrgUnit == p.OrgUnit:
		return nil
	case actorOrgUnit == "":
		return fmt.Errorf("%w: the request names no acting org unit (actor.org_unit_id); name your own, %q", ErrNotYourUnit, p.OrgUnit)
	}
	return fmt.Errorf("%w: your credentials act for %q, the request names %q; name your own org unit", ErrNotYourUnit,
		p.OrgUnit, actorOrgUnit)
}

// Touch decides a change to one ticket: the request's actor must be the
// caller's own org unit, and, unless the caller may act anywhere, the ticket
// must lie in the caller's place. place finds where the ticket lies (and
// fails as the service fails for a missing ticket); a ticket outside the
// caller's place gets notFound, the service's own error for a missing
// ticket, so that both read alike.
func Touch(ctx context.Context, action, actorOrgUnit string, place func() (Resource, error), notFound error) error {
	if err := ActingAs(ctx, actorOrgUnit); err != nil {
		return err
	}
	return Read(ctx, action, place, notFound)
}

// Read decides a read of one ticket as Touch decides a change, without an
// actor.
func Read(ctx context.Context, action string, place func() (Resource, error), notFound error) error {
	if Everywhere(ctx, action) {
		return nil
	}
	res, err := place()
	if err != nil {
		return err
	}
	if err := Authorize(ctx, action, res); errors.Is(err, ErrOutOfScope) {
		return notFound
	} else if err != nil {
		return err
	}
	return nil
}
