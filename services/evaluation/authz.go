package evaluation

import (
	"context"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
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

// mayRead checks that the caller may read the ticket's round; a ticket
// outside the caller's place is "not found", as one that does not exist.
func (g *grpcServer) mayRead(ctx context.Context, ticketID string) error {
	return policy.Read(ctx, actGet, g.place(ctx, ticketID, false), ErrNotFound)
}

// mayEvaluate checks that the caller may judge the ticket, acting for
// actorOrgUnit (a resident: with a code, checked by the service).
func (g *grpcServer) mayEvaluate(ctx context.Context, ticketID, actorOrgUnit string, code bool) error {
	return policy.Touch(ctx, actEvaluate, actorOrgUnit, g.place(ctx, ticketID, code), ErrNotFound)
}

// place returns the function that finds where a ticket's round lies.
func (g *grpcServer) place(ctx context.Context, ticketID string, code bool) func() (policy.Resource, error) {
	return func() (policy.Resource, error) {
		e, err := g.svc.Get(ctx, ticketID)
		return placeOf(e, code), err
	}
}

// callerOf is who calls, as authenticated, for the evaluation rules; on a
// server without authentication (tests of the service alone) the request is
// believed.
func callerOf(ctx context.Context, req *whistlev1.EvaluateRequest) Caller {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return Caller{OrgUnitID: req.GetEvaluator().GetOrgUnitId(), Community: true, Hotline: true,
			Resident: req.GetEvaluationCode() != ""}
	}
	if p.Via == "code" {
		return Caller{Resident: true}
	}
	return Caller{OrgUnitID: p.OrgUnit, Community: p.Has(auth.RoleCommunityOfficer), Hotline: p.Has(auth.RoleSystem)}
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
// Any other call without credentials is unauthenticated.
func Resident(fullMethod string, req any) (auth.Principal, bool) {
	r, ok := req.(*whistlev1.EvaluateRequest)
	if fullMethod != actEvaluate || !ok || r.GetEvaluationCode() == "" ||
		r.GetSource() != whistlev1.EvaluationSource_EVALUATION_SOURCE_RESIDENT {
		return auth.Principal{}, false
	}
	return auth.Principal{Subject: "resident", Roles: []auth.Role{auth.RoleResident}, Via: "code"}, true
}
