package monitoring

import (
	"context"
	"sort"

	"google.golang.org/protobuf/types/known/timestamppb"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/timeconv"
)

// grpcServer is the MonitoringService API.
// Each call is authorized by pkg/policy (authz.go) once the place it reads is known.
type grpcServer struct {
	whistlev1.UnimplementedMonitoringServiceServer
	svc    *Service
	places places
}

func (g *grpcServer) GetTimeline(ctx context.Context, req *whistlev1.GetTimelineRequest) (*whistlev1.GetTimelineResponse, error) {
	st, entries, err := g.svc.Timeline(ctx, req.GetTicketId())
	if err != nil {
		return nil, err
	}
	st, entries, err = g.visibleTimeline(ctx, st, entries)
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.GetTimelineResponse{State: toProtoState(st)}
	for _, e := range entries {
		resp.Entries = append(resp.Entries, toProtoEntry(e))
	}
	dups, err := g.svc.Duplicates(ctx, req.GetTicketId())
	if err != nil {
		return nil, err
	}
	for _, d := range dups {
		resp.Duplicates = append(resp.Duplicates, &whistlev1.MergedDuplicate{TicketId: d.TicketID, TicketNumber: d.Number})
	}
	return resp, nil
}

func (g *grpcServer) GetCounts(ctx context.Context, req *whistlev1.GetCountsRequest) (*whistlev1.GetCountsResponse, error) {
	if err := g.mayReadCity(ctx, actCounts); err != nil {
		return nil, err
	}
	counts, err := g.svc.Counts(ctx, req.GetIncludeSynthetic())
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.GetCountsResponse{}
	for st, n := range counts {
		resp.Counts = append(resp.Counts, &whistlev1.StatusCount{Status: whistlev1.TicketStatus(st), Count: n})
		resp.Total += n
	}
	sort.Slice(resp.Counts, func(i, j int) bool { return resp.Counts[i].Status < resp.Counts[j].Status })
	return resp, nil
}

func toProtoState(st State) *whistlev1.TicketState {
	return &whistlev1.TicketState{
		TicketId: st.TicketID, Number: st.Number, Status: whistlev1.TicketStatus(st.Status), Version: st.Version,
		EscalationLevel: st.EscalationLevel, LeadDepartmentId: st.LeadDepartmentID, Category: st.Category,
		ReworkCount: st.ReworkCount, Synthetic: st.Synthetic, ReportedAt: timeconv.ToProto(st.ReportedAt),
		UpdatedAt: timestamppb.New(st.UpdatedAt), TraceId: st.TraceID,
	}
}

func toProtoEntry(e Entry) *whistlev1.TimelineEntry {
	return &whistlev1.TimelineEntry{
		EventId: e.EventID, EventType: e.EventType, Version: e.Version, OccurredAt: timestamppb.New(e.OccurredAt),
		Actor:    &whistlev1.Actor{Id: e.ActorID, OrgUnitId: e.ActorOrg, DisplayName: e.ActorName},
		Producer: e.Producer, TraceId: e.TraceID, Status: whistlev1.TicketStatus(e.Status), Summary: e.Summary,
	}
}
