package intake

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/pagetoken"
	"github.com/whistle-civic/whistle/pkg/policy"
	"github.com/whistle-civic/whistle/pkg/telemetry"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// grpcServer is the IntakeService API. Requests arrive validated against
// their proto annotations; errors are mapped to statuses by pkg/grpcserver.
// Each call is authorized by pkg/policy once the place it touches is known.
type grpcServer struct {
	whistlev1.UnimplementedIntakeServiceServer
	svc    *Service
	places places
}

func (g *grpcServer) Report(ctx context.Context, req *whistlev1.ReportRequest) (*whistlev1.ReportResponse, error) {
	in := fromProtoReport(req)
	if err := g.svc.asKey(ctx, &in); err != nil {
		return nil, err
	}
	if err := g.mayReport(ctx, in); err != nil {
		return nil, err
	}
	in.Sees = g.sees(ctx)
	t, rc, err := g.svc.Report(ctx, in)
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.ReportResponse{Created: rc.Created, EvaluationCode: rc.Code, Duplicates: toProtoCandidates(rc.Duplicates),
		FollowedTicketId: rc.Followed}
	if rc.Followed == "" {
		resp.Ticket = toProtoTicket(t)
	}
	return resp, nil
}

func (g *grpcServer) FindDuplicates(ctx context.Context, req *whistlev1.FindDuplicatesRequest) (*whistlev1.FindDuplicatesResponse, error) {
	t, err := g.svc.GetTicket(ctx, req.GetTicket())
	if err != nil {
		return nil, err
	}
	if _, err := g.mayRead(ctx, actDuplicates, t); err != nil {
		return nil, err
	}
	cs, err := g.svc.FindDuplicates(ctx, t, g.sees(ctx))
	return &whistlev1.FindDuplicatesResponse{Duplicates: toProtoCandidates(cs)}, err
}

// sees tells which candidates the caller may be told of: those it may read.
// A report never learns of tickets outside its reporter's sight.
func (g *grpcServer) sees(ctx context.Context) func(Candidate) bool {
	if policy.Everywhere(ctx, actGetTicket) {
		return nil
	}
	return func(c Candidate) bool {
		path, err := g.places.Path(ctx, c.Place)
		return err == nil && policy.Authorize(ctx, actGetTicket, policy.Resource{Ticket: true, Areas: path}) == nil
	}
}

func toProtoCandidates(cs []Candidate) []*whistlev1.DuplicateCandidate {
	var out []*whistlev1.DuplicateCandidate
	for _, c := range cs {
		out = append(out, &whistlev1.DuplicateCandidate{TicketId: c.TicketID, TicketNumber: c.Number,
			Status: whistlev1.TicketStatus(c.Status), DistanceMeters: c.Distance, SameGrid: c.SameGrid,
			ReportedAt: timestamppb.New(c.ReportedAt)})
	}
	return out
}

func (g *grpcServer) GetTicket(ctx context.Context, req *whistlev1.GetTicketRequest) (*whistlev1.GetTicketResponse, error) {
	t, err := g.svc.GetTicket(ctx, req.GetTicket())
	if err != nil {
		return nil, err
	}
	res, err := g.mayRead(ctx, actGetTicket, t)
	if err != nil {
		return nil, err
	}
	return &whistlev1.GetTicketResponse{Ticket: toProtoTicket(masked(ctx, t, res))}, nil
}

func (g *grpcServer) ListTickets(ctx context.Context, req *whistlev1.ListTicketsRequest) (*whistlev1.ListTicketsResponse, error) {
	after, err := pagetoken.Decode(req.GetPageToken())
	if err != nil {
		return nil, ErrBadPageToken
	}
	f := ListFilter{
		ReporterOrgUnitID: req.GetReporterOrgUnitId(), Category: req.GetCategory(), Source: Source(req.GetSource()),
		IncludeSynthetic: req.GetIncludeSynthetic(), After: after, Limit: int(req.GetPageSize()),
	}
	for _, st := range req.GetStatuses() {
		f.Statuses = append(f.Statuses, ticket.Status(st))
	}
	if req.ReportedAfter != nil {
		f.ReportedAfter = req.GetReportedAfter().AsTime()
	}
	if req.ReportedBefore != nil {
		f.ReportedBefore = req.GetReportedBefore().AsTime()
	}
	if f.Within, err = g.within(ctx); err != nil {
		return nil, err
	}
	ts, next, err := g.svc.ListTickets(ctx, f)
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.ListTicketsResponse{NextPageToken: pagetoken.Encode(next)}
	for _, t := range ts {
		res, err := g.ticketPlace(ctx, actGetTicket, t)
		if err != nil {
			return nil, err
		}
		resp.Tickets = append(resp.Tickets, toProtoTicket(masked(ctx, t, res)))
	}
	return resp, nil
}

func fromProtoReport(req *whistlev1.ReportRequest) ReportInput {
	return ReportInput{
		IdempotencyKey: req.GetIdempotencyKey(),
		Kind:           Kind(req.GetKind()),
		Source:         Source(req.GetSource()),
		Category:       req.GetCategory(),
		Title:          req.GetTitle(),
		Description:    req.GetDescription(),
		Location:       fromProtoLocation(req.GetLocation()),
		Reporter: Reporter{
			OrgUnitID: req.GetReporter().GetOrgUnitId(),
			Name:      req.GetReporter().GetName(),
			Phone:     req.GetReporter().GetPhone(),
		},
		Synthetic:      req.GetSynthetic(),
		FollowOriginal: req.GetFollowOriginal(),
		PhotoIDs:       req.GetPhotoIds(),
		Facts:          fromProtoFacts(req.GetFacts()),
	}
}

func fromProtoFacts(fs []*whistlev1.Fact) []Fact {
	var out []Fact
	for _, f := range fs {
		out = append(out, Fact{Code: f.GetCode(), Value: f.GetValue()})
	}
	return out
}

func fromProtoLocation(l *whistlev1.Location) Location {
	out := Location{GridID: l.GetGridId(), Address: l.GetAddress()}
	if c := l.GetCoordinates(); c != nil {
		out.HasCoordinates, out.Latitude, out.Longitude = true, c.GetLatitude(), c.GetLongitude()
	}
	return out
}

func toProtoTicket(t Ticket) *whistlev1.Ticket {
	loc := &whistlev1.Location{GridId: t.Location.GridID, Address: t.Location.Address}
	if t.Location.HasCoordinates {
		loc.Coordinates = &whistlev1.Coordinates{Latitude: t.Location.Latitude, Longitude: t.Location.Longitude}
	}
	return &whistlev1.Ticket{
		Id: t.ID, Number: t.Number, Kind: whistlev1.WhistleKind(t.Kind), Source: whistlev1.Source(t.Source),
		Category: t.Category, Title: t.Title, Description: t.Description, Location: loc,
		Reporter: &whistlev1.Reporter{
			OrgUnitId: t.Reporter.OrgUnitID, Name: t.Reporter.Name, Phone: t.Reporter.Phone,
		},
		Synthetic:        t.Synthetic,
		ReportedAt:       timestamppb.New(t.ReportedAt),
		TraceId:          telemetry.TraceIDOf(t.TraceParent),
		IdempotencyKey:   t.IdempotencyKey,
		RelatedTicketIds: t.RelatedTicketIDs,
		PhotoIds:         t.PhotoIDs,
		Facts:            toProtoFacts(t.Facts),
		Status:           whistlev1.TicketStatus(t.Status),
		UpdatedAt:        timestamppb.New(t.UpdatedAt),
	}
}

func toProtoFacts(fs []Fact) []*whistlev1.Fact {
	var out []*whistlev1.Fact
	for _, f := range fs {
		out = append(out, &whistlev1.Fact{Code: f.Code, Value: f.Value})
	}
	return out
}
