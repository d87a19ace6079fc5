package dispatch

import (
	"context"

	"google.golang.org/protobuf/types/known/durationpb"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/timeconv"
)

// grpcServer is the DispatchService API.
type grpcServer struct {
	whistlev1.UnimplementedDispatchServiceServer
	svc *Service
}

func (g *grpcServer) GetAssignment(ctx context.Context, req *whistlev1.GetAssignmentRequest) (*whistlev1.GetAssignmentResponse, error) {
	a, err := g.svc.GetAssignment(ctx, req.GetTicketId())
	if err != nil {
		return nil, err
	}
	return &whistlev1.GetAssignmentResponse{Assignment: toProtoAssignment(a)}, nil
}

func (g *grpcServer) GetCatalog(context.Context, *whistlev1.GetCatalogRequest) (*whistlev1.GetCatalogResponse, error) {
	return toProtoCatalog(g.svc.Catalog()), nil
}

func toProtoAssignment(a Assignment) *whistlev1.Assignment {
	return &whistlev1.Assignment{
		TicketId: a.TicketID, TicketNumber: a.Number, Status: whistlev1.TicketStatus(a.Status), Version: a.Version,
		LeadDepartmentId: a.Lead, AssistingDepartmentIds: a.Assisting,
		AcceptDue: timeconv.ToProto(a.AcceptDue), ResolveDue: timeconv.ToProto(a.ResolveDue),
		CatalogVersion: a.CatalogVersion, Rule: a.Rule, TriageOrgUnitId: a.TriageOrgUnit, Category: a.Facts.Category,
	}
}

func toProtoCatalog(c *Catalog) *whistlev1.GetCatalogResponse {
	resp := &whistlev1.GetCatalogResponse{Version: c.Version}
	for _, u := range c.Units() {
		resp.OrgUnits = append(resp.OrgUnits, &whistlev1.OrgUnit{
			Id: u.ID, Name: u.Name, Level: whistlev1.OrgLevel(u.Level), ParentId: u.ParentID})
	}
	for _, d := range c.Departments() {
		resp.Departments = append(resp.Departments, &whistlev1.Department{
			Id: d.ID, Name: d.Name, Kind: d.Kind, OrgUnitId: d.OrgUnitID})
	}
	for _, m := range c.Matters() {
		resp.Matters = append(resp.Matters, &whistlev1.MatterType{
			Code: m.Code, Name: m.Name, LeadKind: m.LeadKind, LeadLevel: whistlev1.OrgLevel(m.LeadLevel),
			AssistingKinds: m.AssistKinds, AcceptWithin: durationpb.New(m.AcceptWithin),
			ResolveWithin: durationpb.New(m.ResolveWithin),
		})
	}
	return resp
}
