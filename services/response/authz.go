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
// for actorOrgUnit ("" for reads); a ticket outside the caller's department
// is "not found", as one that does not exist.
func (g *grpcServer) mayTouch(ctx context.Context, action, ticketID, actorOrgUnit string) error {
	return policy.Touch(ctx, action, actorOrgUnit, func() (policy.Resource, error) {
		it, err := g.svc.GetItem(ctx, ticketID)
		return placeOf(it), err
	}, ErrNotFound)
}

// mayRead checks that the caller may read a department's inbox.
func mayRead(ctx context.Context, action, department string) error {
	return policy.Authorize(ctx, action, policy.Resource{Departments: []string{department}})
}
