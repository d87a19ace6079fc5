package response

import (
	"context"

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
