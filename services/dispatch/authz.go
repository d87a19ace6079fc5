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
	actReviseCalendar  = "/whistle.v1.DispatchService/ReviseCalendar"
	actDiffCatalogs    = "/whistle.v1.DispatchService/DiffCatalogs"
	actWithdraw        = "/whistle.v1.DispatchService/Withdraw"
	actMerge           = "/whistle.v1.DispatchService/Merge"
)

// placeOf is where an assignment lies: its area and its departments.
func placeOf(a Assignment) policy.Resource {
	return policy.Resource{Ticket: true, Areas: a.Area, Departments: append([]string{a.Lead}, a.Assisting...)}
}

// mayTouch checks that the caller may take the action on the ticket, acting
// for actorOrgUnit; a ticket outside the caller's place is "not found", as
// one that does not exist.
func (g *grpcServer) mayTouch(ctx context.Context, action, ticketID, actorOrgUnit string) error {
	return policy.Touch(ctx, action, actorOrgUnit, g.place(ctx, ticketID), ErrNotFound)
}

// mayTouchReport checks a change that the unit that reported the ticket
// (or one above it) may make, as mayTouch does.
func (g *grpcServer) mayTouchReport(ctx context.Context, action, ticketID, actorOrgUnit string) error {
	return policy.Touch(ctx, action, actorOrgUnit, func() (policy.Resource, error) {
		a, err := g.svc.GetAssignment(ctx, ticketID)
		res := placeOf(a)
		unit := snapshot(a).GetReporter().GetOrgUnitId()
		if res.ReportedFrom = g.svc.catalog().Path(unit); len(res.ReportedFrom) == 0 && unit != "" {
			res.ReportedFrom = []string{unit} // a reporting system outside the org tree
		}
		return res, err
	}, ErrNotFound)
}

// mayRead checks that the caller may read the ticket, as mayTouch does.
func (g *grpcServer) mayRead(ctx context.Context, action, ticketID string) error {
	return policy.Read(ctx, action, g.place(ctx, ticketID), ErrNotFound)
}

// place returns the function that finds where a ticket lies.
func (g *grpcServer) place(ctx context.Context, ticketID string) func() (policy.Resource, error) {
	return func() (policy.Resource, error) {
		a, err := g.svc.GetAssignment(ctx, ticketID)
		return placeOf(a), err
	}
}

// mayDo checks a read that touches no place (the catalog).
func mayDo(ctx context.Context, action string) error {
	return policy.Authorize(ctx, action, policy.Resource{})
}

// mayChange checks a change that touches no place (the catalog), acting for
// actorOrgUnit.
func mayChange(ctx context.Context, action, actorOrgUnit string) error {
	if err := policy.ActingAs(ctx, actorOrgUnit); err != nil {
		return err
	}
	return mayDo(ctx, action)
}

// mayWatch checks that the org unit named lies in the caller's place.
func (g *grpcServer) mayWatch(ctx context.Context, action, unit string) error {
	if policy.Everywhere(ctx, action) {
		return nil
	}
	return policy.Authorize(ctx, action, policy.Resource{Areas: g.svc.catalog().Path(unit)})
}
