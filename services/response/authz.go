package response

import (
	"context"

	"google.golang.org/protobuf/proto"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/policy"
)

// The API's actions, as the policy table names them ("/whistle.v1.ResponseService/" + method).
const (
	service      = "/whistle.v1.ResponseService/"
	actListInbox = service + "ListInbox"
	actGetItem   = service + "GetInboxItem"
	actWatch     = service + "WatchInbox"
)

// placeOf is where an item lies: its area, its lead and assisting departments.
func placeOf(it Item) policy.Resource {
	res := policy.Resource{Ticket: true, Areas: it.Area, Departments: []string{it.DepartmentID}}
	for _, a := range it.Assists {
		res.Departments = append(res.Departments, a.DepartmentID)
	}
	return res
}

// mayTouch checks that the caller may take the action on the ticket, acting
// for actorOrgUnit; a ticket outside the caller's department is "not
// found", as one that does not exist.
func (g *grpcServer) mayTouch(ctx context.Context, action, ticketID, actorOrgUnit string) error {
	return policy.Touch(ctx, action, actorOrgUnit, g.place(ctx, ticketID), ErrNotFound)
}

// placeReported finds where a ticket's item lies and where the ticket was
// reported from.
func (g *grpcServer) placeReported(ctx context.Context, ticketID string) func() (policy.Resource, error) {
	return func() (policy.Resource, error) {
		it, err := g.svc.GetItem(ctx, ticketID)
		if err != nil {
			return policy.Resource{}, err
		}
		res := placeOf(it)
		res.ReportedFrom, err = g.reportedFrom(ctx, it)
		return res, err
	}
}

// reportedFrom is the path from the unit that reported the item's ticket up to the city.
func (g *grpcServer) reportedFrom(ctx context.Context, it Item) ([]string, error) {
	snap := &whistlev1.Ticket{}
	_ = proto.Unmarshal(it.Snapshot, snap) // written from a decoded event
	unit := snap.GetReporter().GetOrgUnitId()
	if unit == "" {
		return nil, nil
	}
	if tree := g.svc.deps.OrgTree; tree != nil {
		if path, err := tree.Path(ctx, unit); err != nil || len(path) > 0 {
			return path, err
		}
	}
	return []string{unit}, nil // a reporting system outside the org tree
}

// mayReadItem checks that the caller may read the ticket's item, as mayTouch does.
func (g *grpcServer) mayReadItem(ctx context.Context, ticketID string) error {
	return policy.Read(ctx, actGetItem, g.place(ctx, ticketID), ErrNotFound)
}

// place returns the function that finds where a ticket's item lies.
func (g *grpcServer) place(ctx context.Context, ticketID string) func() (policy.Resource, error) {
	return func() (policy.Resource, error) {
		it, err := g.svc.GetItem(ctx, ticketID)
		return placeOf(it), err
	}
}

// mayRead checks that the caller may read a department's inbox.
func mayRead(ctx context.Context, action, department string) error {
	return policy.Authorize(ctx, action, policy.Resource{Departments: []string{department}})
}
