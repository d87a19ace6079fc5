package dispatch

import (
	"context"

	"github.com/whistle-civic/whistle/pkg/policy"
)

// The API's actions, as the policy table names them.
const (
	actGetAssignment   = "/whistle.v1.DispatchService/GetAssignment"
	actExplainRouting  = "/whistle.v1.DispatchService/ExplainRouting"
	actListTriage      = "/whistle.v1.DispatchService/ListTriage"
	actDispatch        = "/whistle.v1.DispatchService/Dispatch"
	actRejectTriage    = "/whistle.v1.DispatchService/RejectTriage"
	actArbitrate       = "/whistle.v1.DispatchService/Arbitrate"
	actDecideExtension = "/whistle.v1.DispatchService/DecideExtension"
	actGetCatalog      = "/whistle.v1.DispatchService/GetCatalog"
	actListCatalogs    = "/whistle.v1.DispatchService/ListCatalogs"
	actImportCatalog   = "/whistle.v1.DispatchService/ImportCatalog"
	actActivateCatalog = "/whistle.v1.DispatchService/ActivateCatalog"
	actDiffCatalogs    = "/whistle.v1.DispatchService/DiffCatalogs"
)

// placeOf is where an assignment lies: its area and its departments.
func placeOf(a Assignment) policy.Resource {
	return policy.Resource{Ticket: true, Areas: a.Area, Departments: append([]string{a.Lead}, a.Assisting...)}
}

// mayTouch checks that the caller may take the action on the ticket, acting
// for actorOrgUnit ("" for reads); a ticket outside the caller's place is
// "not found", as one that does not exist.
func (g *grpcServer) mayTouch(ctx context.Context, action, ticketID, actorOrgUnit string) error {
	return policy.Touch(ctx, action, actorOrgUnit, func() (policy.Resource, error) {
		a, err := g.svc.GetAssignment(ctx, ticketID)
		return placeOf(a), err
	}, ErrNotFound)
}

// mayDo checks an action that touches no place (the catalog), acting for
// actorOrgUnit ("" for reads).
func mayDo(ctx context.Context, action, actorOrgUnit string) error {
	if actorOrgUnit != "" {
		if err := policy.ActingAs(ctx, actorOrgUnit); err != nil {
			return err
		}
	}
	return policy.Authorize(ctx, action, policy.Resource{})
}

// mayWatch checks that the org unit named lies in the caller's place.
func (g *grpcServer) mayWatch(ctx context.Context, action, unit string) error {
	if policy.Everywhere(ctx, action) {
		return nil
	}
	return policy.Authorize(ctx, action, policy.Resource{Areas: g.svc.catalog().Path(unit)})
}
