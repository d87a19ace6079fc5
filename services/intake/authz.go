package intake

import (
	"context"
	"errors"
	"fmt"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/policy"
)

// The API's actions, as the policy table names them.
const (
	actReport      = "/whistle.v1.IntakeService/Report"
	actGetTicket   = "/whistle.v1.IntakeService/GetTicket"
	actListTickets = "/whistle.v1.IntakeService/ListTickets"
	actDuplicates  = "/whistle.v1.IntakeService/FindDuplicates"
	actUploadMedia = "/whistle.v1.IntakeService/UploadMedia"
	actGetMedia    = "/whistle.v1.IntakeService/GetMedia"
	actListMedia   = "/whistle.v1.IntakeService/ListMedia"
	actImport      = "/whistle.v1.IntakeService/ImportTickets"
)

// places tells where an org unit lies, and what lies under one (pkg/orgtree).
type places interface {
	Path(ctx context.Context, id string) ([]string, error)
	Under(ctx context.Context, id string) ([]string, error)
}

// mayReport checks that the caller reports from a place that is theirs: both
// the reporting org unit and the grid (when given) must lie under the org
// unit the caller acts for.
func (g *grpcServer) mayReport(ctx context.Context, in ReportInput) error {
	if policy.Everywhere(ctx, actReport) {
		return nil
	}
	for _, unit := range []string{in.Reporter.OrgUnitID, in.Location.GridID} {
		if unit == "" {
			continue
		}
		path, err := g.places.Path(ctx, unit)
		if err != nil {
			return err
		}
		if err := policy.Authorize(ctx, actReport, policy.Resource{Areas: path}); err != nil {
			return fmt.Errorf("report from %s: %w", unit, err)
		}
	}
	return nil
}

// ticketPlace returns where a ticket lies for the action: its grid's path
// (or its reporter's when it names no grid) and the departments it was
// assigned to. Callers who may take the action anywhere need not know.
func (g *grpcServer) ticketPlace(ctx context.Context, action string, t Ticket) (policy.Resource, error) {
	if policy.Everywhere(ctx, action) {
		return policy.Resource{Ticket: true}, nil
	}
	unit := t.Location.GridID
	if unit == "" {
		unit = t.Reporter.OrgUnitID
	}
	path, err := g.places.Path(ctx, unit)
	if err != nil {
		return policy.Resource{}, err
	}
	return policy.Resource{Ticket: true, Areas: path, Departments: t.Departments}, nil
}

// mayRead checks that the caller may take the action on the ticket (read
// it, its duplicates or its files); a ticket outside the caller's place is
// "not found", as one that does not exist.
func (g *grpcServer) mayRead(ctx context.Context, action string, t Ticket) (policy.Resource, error) {
	res, err := g.ticketPlace(ctx, action, t)
	if err != nil {
		return res, err
	}
	if err := policy.Authorize(ctx, action, res); err != nil {
		if errors.Is(err, policy.ErrOutOfScope) {
			return res, ErrNotFound
		}
		return res, err
	}
	return res, nil
}

// within returns the units a caller may list tickets from; nil for anywhere.
func (g *grpcServer) within(ctx context.Context) ([]string, error) {
	if policy.Everywhere(ctx, actListTickets) {
		return nil, nil
	}
	p, ok := auth.FromContext(ctx)
	if !ok {
		return nil, policy.ErrNoPrincipal
	}
	if err := policy.Allowed(p, actListTickets); err != nil {
		return nil, err
	}
	return g.places.Under(ctx, p.OrgUnit) // every rule of the action is "in area"
}

// masked hides the reporter's name and phone from those who need not call them.
func masked(ctx context.Context, t Ticket, res policy.Resource) Ticket {
	if !policy.SeesPersonalData(ctx, res) {
		t.Reporter.Name, t.Reporter.Phone = policy.MaskName(t.Reporter.Name), policy.MaskPhone(t.Reporter.Phone)
	}
	return t
}
