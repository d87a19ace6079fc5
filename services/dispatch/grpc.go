package dispatch

import (
	"context"
	"errors"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/whistle-civic/whistle/pkg/calendar"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/pagetoken"
	"github.com/whistle-civic/whistle/pkg/policy"
	"github.com/whistle-civic/whistle/pkg/timeconv"
)

// grpcServer is the DispatchService API. Each call is authorized by
// pkg/policy (authz.go) before it runs.
type grpcServer struct {
	whistlev1.UnimplementedDispatchServiceServer
	svc *Service
}

func (g *grpcServer) GetAssignment(ctx context.Context, req *whistlev1.GetAssignmentRequest) (*whistlev1.GetAssignmentResponse, error) {
	if err := g.mayRead(ctx, actGetAssignment, req.GetTicketId()); err != nil {
		return nil, err
	}
	a, err := g.svc.GetAssignment(ctx, req.GetTicketId())
	if err != nil {
		return nil, err
	}
	return &whistlev1.GetAssignmentResponse{Assignment: toProtoAssignment(a)}, nil
}

func (g *grpcServer) ExplainRouting(ctx context.Context, req *whistlev1.ExplainRoutingRequest) (*whistlev1.ExplainRoutingResponse, error) {
	if err := mayDo(ctx, actExplainRouting); err != nil {
		return nil, err
	}
	if req.GetTicketId() != "" { // a ticket's routing is for those who may read the ticket
		if err := g.mayRead(ctx, actGetAssignment, req.GetTicketId()); err != nil {
			return nil, err
		}
	}
	kind := int32(req.GetKind())
	if kind == 0 {
		kind = int32(whistlev1.WhistleKind_WHISTLE_KIND_DAILY)
	}
	r, version, err := g.svc.Explain(ctx, req.GetTicketId(), Facts{Category: req.GetCategory(), GridID: req.GetGridId(), Kind: kind})
	if err != nil {
		return nil, err
	}
	return &whistlev1.ExplainRoutingResponse{CatalogVersion: version, Steps: r.Steps, LeadDepartmentId: r.Lead,
		AssistingDepartmentIds: r.Assisting, TriageOrgUnitId: r.TriageOrgUnit, Rule: r.Rule}, nil
}

func (g *grpcServer) ListTriage(ctx context.Context, req *whistlev1.ListTriageRequest) (*whistlev1.ListTriageResponse, error) {
	if err := g.mayWatch(ctx, actListTriage, req.GetOrgUnitId()); err != nil {
		return nil, err
	}
	after, err := pagetoken.Decode(req.GetPageToken())
	if err != nil {
		return nil, ErrBadPageToken
	}
	as, next, err := g.svc.ListTriage(ctx, req.GetOrgUnitId(), after, int(req.GetPageSize()))
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.ListTriageResponse{NextPageToken: pagetoken.Encode(next)}
	for _, a := range as {
		resp.Assignments = append(resp.Assignments, toProtoAssignment(a))
	}
	return resp, nil
}

func (g *grpcServer) Dispatch(ctx context.Context, req *whistlev1.DispatchRequest) (*whistlev1.DispatchResponse, error) {
	if err := g.mayTouch(ctx, actDispatch, req.GetTicketId(), req.GetActor().GetOrgUnitId()); err != nil {
		return nil, err
	}
	a, err := g.svc.DispatchByHand(ctx, ManualDispatch{
		TicketID: req.GetTicketId(), Lead: req.GetLeadDepartmentId(), Assisting: req.GetAssistingDepartmentIds(),
		AcceptWithin: calendar.Window{Time: req.GetAcceptWithin().AsDuration()}, ResolveWithin: calendar.Window{Time: req.GetResolveWithin().AsDuration()},
		Note: req.GetNote(), By: fromProtoActor(req.GetActor()),
	})
	if err != nil {
		return nil, err
	}
	return &whistlev1.DispatchResponse{Assignment: toProtoAssignment(a)}, nil
}

func (g *grpcServer) RejectTriage(ctx context.Context, req *whistlev1.RejectTriageRequest) (*whistlev1.RejectTriageResponse, error) {
	if err := g.mayTouch(ctx, actRejectTriage, req.GetTicketId(), req.GetActor().GetOrgUnitId()); err != nil {
		return nil, err
	}
	a, err := g.svc.RejectTriage(ctx, req.GetTicketId(), req.GetReason(), fromProtoActor(req.GetActor()))
	if err != nil {
		return nil, err
	}
	return &whistlev1.RejectTriageResponse{Assignment: toProtoAssignment(a)}, nil
}

func (g *grpcServer) Arbitrate(ctx context.Context, req *whistlev1.ArbitrateRequest) (*whistlev1.ArbitrateResponse, error) {
	if err := g.mayTouch(ctx, actArbitrate, req.GetTicketId(), req.GetActor().GetOrgUnitId()); err != nil {
		return nil, err
	}
	a, err := g.svc.Arbitrate(ctx, req.GetTicketId(), req.GetDepartmentId(), req.GetNote(), fromProtoActor(req.GetActor()))
	if err != nil {
		return nil, err
	}
	return &whistlev1.ArbitrateResponse{Assignment: toProtoAssignment(a)}, nil
}

func (g *grpcServer) DecideExtension(ctx context.Context, req *whistlev1.DecideExtensionRequest) (*whistlev1.DecideExtensionResponse, error) {
	if err := g.mayTouch(ctx, actDecideExtension, req.GetTicketId(), req.GetActor().GetOrgUnitId()); err != nil {
		return nil, err
	}
	a, err := g.svc.DecideExtension(ctx, req.GetTicketId(), req.GetGranted(), timeconv.FromProto(req.GetResolveDue()),
		req.GetNote(), fromProtoActor(req.GetActor()))
	if err != nil {
		return nil, err
	}
	return &whistlev1.DecideExtensionResponse{Assignment: toProtoAssignment(a)}, nil
}

func (g *grpcServer) GetCatalog(ctx context.Context, req *whistlev1.GetCatalogRequest) (*whistlev1.GetCatalogResponse, error) {
	if err := mayDo(ctx, actGetCatalog); err != nil {
		return nil, err
	}
	cat, info, err := g.svc.CatalogVersion(ctx, req.GetVersion())
	if err != nil {
		return nil, err
	}
	return toProtoCatalog(cat, info, g.svc.clock.Now()), nil
}

func (g *grpcServer) ListCatalogs(ctx context.Context, _ *whistlev1.ListCatalogsRequest) (*whistlev1.ListCatalogsResponse, error) {
	if err := mayDo(ctx, actListCatalogs); err != nil {
		return nil, err
	}
	infos, err := g.svc.ListCatalogs(ctx)
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.ListCatalogsResponse{}
	for _, i := range infos {
		resp.Versions = append(resp.Versions, toProtoCatalogVersion(i))
	}
	return resp, nil
}

func (g *grpcServer) ImportCatalog(ctx context.Context, req *whistlev1.ImportCatalogRequest) (*whistlev1.ImportCatalogResponse, error) {
	if err := mayChange(ctx, actImportCatalog, req.GetActor().GetOrgUnitId()); err != nil {
		return nil, err
	}
	info, created, err := g.svc.ImportCatalog(ctx, []byte(req.GetSource()), req.GetActivate(), fromProtoActor(req.GetActor()))
	if err != nil {
		return nil, err
	}
	return &whistlev1.ImportCatalogResponse{Version: toProtoCatalogVersion(info), Created: created}, nil
}

func (g *grpcServer) ActivateCatalog(ctx context.Context, req *whistlev1.ActivateCatalogRequest) (*whistlev1.ActivateCatalogResponse, error) {
	if err := mayChange(ctx, actActivateCatalog, req.GetActor().GetOrgUnitId()); err != nil {
		return nil, err
	}
	info, err := g.svc.ActivateCatalog(ctx, req.GetVersion(), fromProtoActor(req.GetActor()))
	if err != nil {
		return nil, err
	}
	return &whistlev1.ActivateCatalogResponse{Version: toProtoCatalogVersion(info)}, nil
}

func (g *grpcServer) DiffCatalogs(ctx context.Context, req *whistlev1.DiffCatalogsRequest) (*whistlev1.DiffCatalogsResponse, error) {
	if err := mayDo(ctx, actDiffCatalogs); err != nil {
		return nil, err
	}
	changes, err := g.svc.DiffCatalogs(ctx, req.GetFrom(), req.GetTo())
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.DiffCatalogsResponse{}
	for _, c := range changes {
		resp.Changes = append(resp.Changes, &whistlev1.CatalogChange{Kind: c.Kind, Entity: c.Entity, Id: c.ID, Detail: c.Detail})
	}
	return resp, nil
}

func (g *grpcServer) ReviseCalendar(ctx context.Context, req *whistlev1.ReviseCalendarRequest) (*whistlev1.ReviseCalendarResponse, error) {
	if err := mayChange(ctx, actReviseCalendar, req.GetActor().GetOrgUnitId()); err != nil {
		return nil, err
	}
	r := CalendarRevision{Version: req.GetVersion(), Activate: req.GetActivate(), Revision: calendar.Revision{
		AddHolidays: req.GetAddHolidays(), AddMakeUpDays: req.GetAddMakeUpDays(), Remove: req.GetRemove(),
		CoversUntil: req.GetCoversUntil()}}
	out, err := g.svc.ReviseCalendar(ctx, r, fromProtoActor(req.GetActor()))
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.ReviseCalendarResponse{Version: toProtoCatalogVersion(out.Info),
		Calendar: toProtoCalendar(out.Calendar, g.svc.clock.Now()), Revised: out.Revised, Created: out.Created}
	for _, c := range out.Changes {
		resp.Changes = append(resp.Changes, &whistlev1.CatalogChange{Kind: c.Kind, Entity: c.Entity, Id: c.ID, Detail: c.Detail})
	}
	return resp, nil
}

func fromProtoActor(a *whistlev1.Actor) Actor {
	return Actor{ID: a.GetId(), OrgUnitID: a.GetOrgUnitId(), Name: a.GetDisplayName()}
}

func toProtoAssignment(a Assignment) *whistlev1.Assignment {
	return &whistlev1.Assignment{
		TicketId: a.TicketID, TicketNumber: a.Number, Status: whistlev1.TicketStatus(a.Status), Version: a.Version,
		LeadDepartmentId: a.Lead, AssistingDepartmentIds: a.Assisting,
		AcceptDue: timeconv.ToProto(a.AcceptDue), ResolveDue: timeconv.ToProto(a.ResolveDue),
		CatalogVersion: a.CatalogVersion, Rule: a.Rule, TriageOrgUnitId: a.TriageOrgUnit, Category: a.Facts.Category,
		OwnerDepartmentId: a.Owner, EscalationLevel: a.EscalationLevel, Paused: !a.PausedAt.IsZero(),
		ReturnCount: a.ReturnCount, Binding: a.Binding, Arbitration: a.Arbitration,
		ExtensionRequestedDue: timeconv.ToProto(a.ExtensionDue), ExtensionReason: a.ExtensionReason, GridId: a.Facts.GridID,
	}
}

func toProtoCatalogVersion(i CatalogInfo) *whistlev1.CatalogVersion {
	return &whistlev1.CatalogVersion{Version: i.Version, ImportedAt: timeconv.ToProto(i.ImportedAt), ImportedBy: i.ImportedBy,
		Active: i.Active, ActivatedAt: timeconv.ToProto(i.ActivatedAt), Sha256: i.SHA256}
}

// toProtoCalendar is a calendar and how far it covers after now.
func toProtoCalendar(cal *calendar.Calendar, now time.Time) *whistlev1.Calendar {
	spec := cal.Spec()
	out := &whistlev1.Calendar{TimeZone: spec.TimeZone, WorkingHours: spec.WorkingHours, WorkingDays: spec.WorkingDays,
		Holidays: spec.Holidays, MakeUpDays: spec.MakeUpDays, DaysAhead: int32(cal.DaysAhead(now))}
	if end := cal.CoversUntil(); !end.IsZero() {
		out.CoversUntil = end.AddDate(0, 0, -1).In(cal.Location()).Format(time.DateOnly)
	}
	return out
}

func toProtoCatalog(c *Catalog, info CatalogInfo, now time.Time) *whistlev1.GetCatalogResponse {
	resp := &whistlev1.GetCatalogResponse{Version: c.Version, Active: info.Active, Source: string(c.Source),
		Calendar: toProtoCalendar(c.Calendar, now)}
	for _, u := range c.Units() {
		resp.OrgUnits = append(resp.OrgUnits, &whistlev1.OrgUnit{
			Id: u.ID, Name: u.Name, Level: whistlev1.OrgLevel(u.Level), ParentId: u.ParentID, Centre: toProtoPoint(u.Centre)})
	}
	for _, d := range c.Departments() {
		resp.Departments = append(resp.Departments, &whistlev1.Department{
			Id: d.ID, Name: d.Name, Kind: d.Kind, OrgUnitId: d.OrgUnitID})
	}
	day := c.Calendar.DayLength()
	for _, m := range c.Matters() {
		resp.Matters = append(resp.Matters, &whistlev1.MatterType{
			Code: m.Code, Name: m.Name, LeadKind: m.LeadKind, LeadLevel: whistlev1.OrgLevel(m.LeadLevel),
			AssistingKinds: m.AssistKinds, AcceptWithin: durationpb.New(m.AcceptWithin.Working(day)),
			ResolveWithin: durationpb.New(m.ResolveWithin.Working(day)), AcceptWindow: m.AcceptWithin.String(),
			ResolveWindow: m.ResolveWithin.String(), Urgency: m.Urgency, AlternativeKinds: m.Alternatives,
			Triage: m.Triage, CommunityMaySummon: m.CommunityMaySummon,
			Description: m.Description, Keywords: m.Keywords, Group: m.Group, Attributes: toProtoAttributes(m.Attributes),
		})
	}
	return resp
}

func toProtoPoint(p *Point) *whistlev1.Coordinates {
	if p == nil {
		return nil
	}
	return &whistlev1.Coordinates{Latitude: p.Lat, Longitude: p.Lng}
}

func toProtoAttributes(as []MatterAttribute) []*whistlev1.MatterAttribute {
	var out []*whistlev1.MatterAttribute
	for _, a := range as {
		pa := &whistlev1.MatterAttribute{Code: a.Code, Description: a.Description, Type: protoAttributeTypes[a.Type],
			Required: a.Required, TypeDescription: a.TypeDescription}
		for _, v := range a.Values {
			pa.Values = append(pa.Values, &whistlev1.AttributeValue{Key: v.Key, Name: v.Name})
		}
		out = append(out, pa)
	}
	return out
}

var protoAttributeTypes = map[AttributeType]whistlev1.AttributeType{
	AttributeString:       whistlev1.AttributeType_ATTRIBUTE_TYPE_STRING,
	AttributeNumber:       whistlev1.AttributeType_ATTRIBUTE_TYPE_NUMBER,
	AttributeDateTime:     whistlev1.AttributeType_ATTRIBUTE_TYPE_DATETIME,
	AttributeText:         whistlev1.AttributeType_ATTRIBUTE_TYPE_TEXT,
	AttributeSingleChoice: whistlev1.AttributeType_ATTRIBUTE_TYPE_SINGLE_CHOICE,
	AttributeMultiChoice:  whistlev1.AttributeType_ATTRIBUTE_TYPE_MULTI_CHOICE,
}

func (g *grpcServer) Withdraw(ctx context.Context, req *whistlev1.WithdrawRequest) (*whistlev1.WithdrawResponse, error) {
	if err := g.mayTouchReport(ctx, actWithdraw, req.GetTicketId(), req.GetActor().GetOrgUnitId()); err != nil {
		return nil, err
	}
	a, err := g.svc.Withdraw(ctx, req.GetTicketId(), req.GetReason(), fromProtoActor(req.GetActor()))
	if err != nil {
		return nil, err
	}
	return &whistlev1.WithdrawResponse{Assignment: toProtoAssignment(a)}, nil
}

func (g *grpcServer) Merge(ctx context.Context, req *whistlev1.MergeRequest) (*whistlev1.MergeResponse, error) {
	if err := g.mayTouch(ctx, actMerge, req.GetTicketId(), req.GetActor().GetOrgUnitId()); err != nil {
		return nil, err
	}
	if err := policy.Read(ctx, actMerge, g.place(ctx, req.GetOriginalTicketId()), ErrOriginalNotFound); err != nil {
		if errors.Is(err, ErrNotFound) {
			err = ErrOriginalNotFound
		}
		return nil, err
	}
	a, err := g.svc.Merge(ctx, Merging{TicketID: req.GetTicketId(), OriginalID: req.GetOriginalTicketId(), Note: req.GetNote(),
		AcrossMatters: req.GetAcrossMatters(), By: fromProtoActor(req.GetActor())})
	if err != nil {
		return nil, err
	}
	return &whistlev1.MergeResponse{Assignment: toProtoAssignment(a)}, nil
}
