package evaluation

import (
	"context"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/policy"
)

// The API's actions, as the policy table names them.
const (
	actGet      = "/whistle.v1.EvaluationService/GetEvaluation"
	actListOpen = "/whistle.v1.EvaluationService/ListOpenEvaluations"
	actEvaluate = "/whistle.v1.EvaluationService/Evaluate"
)

// placeOf is where a round lies: the ticket's area (or its reporter, before
// the area is known) and the department judged.
func placeOf(e Evaluation, code bool) policy.Resource {
	areas := e.Area
	if len(areas) == 0 && e.ReporterOrgUnitID != "" {
		areas = []string{e.ReporterOrgUnitID}
	}
	return policy.Resource{Ticket: true, Areas: areas, Departments: []string{e.DepartmentID}, Code: code}
}

// mayTouch checks that the caller may take the action on the ticket's round,
// acting for actorOrgUnit ("" for reads); a ticket outside the caller's
// place is "not found", as one that does not exist.
func (g *grpcServer) mayTouch(ctx context.Context, action, ticketID, actorOrgUnit string, code bool) error {
	return policy.Touch(ctx, action, actorOrgUnit, func() (policy.Resource, error) {
		e, err := g.svc.Get(ctx, ticketID)
		return placeOf(e, code), err
	}, ErrNotFound)
}

// within returns the place a caller may list open rounds in; "" for anywhere.
func within(ctx context.Context) (string, error) {
	if policy.Everywhere(ctx, actListOpen) {
		return "", nil
	}
	p, ok := auth.FromContext(ctx)
	if !ok {
		return "", policy.ErrNoPrincipal
	}
	if err := policy.Allowed(p, actListOpen); err != nil {
		return "", err
	}
	return p.OrgUnit, nil // every rule of the action is "in area"
}

// Resident is the principal of a resident who judges with a one-time
// evaluation code and no account: the only call they may make is Evaluate
// with source RESIDENT and a code, which the service checks against the
// ticket's (pkg/auth's Authenticator asks for it when a call has no token).
func Resident(fullMethod string, req any) (auth.Principal, bool) {
	r, ok := req.(interface{ GetEvaluationCode() string })
	if fullMethod != actEvaluate || !ok || r.GetEvaluationCode() == "" {
		return auth.Principal{}, false
	}
	return auth.Principal{Subject: "resident", Roles: []auth.Role{auth.RoleResident}, Via: "code"}, true
}
