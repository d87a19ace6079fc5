package monitoring

import (
	"context"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/pagetoken"
	"github.com/whistle-civic/whistle/pkg/policy"
)

func (g *grpcServer) GetScorecard(ctx context.Context, req *whistlev1.GetScorecardRequest) (*whistlev1.GetScorecardResponse, error) {
	unit, err := g.unitFor(ctx, actScorecard, req.GetOrgUnitId())
	if err != nil {
		return nil, err
	}
	sc, err := g.svc.Scorecard(ctx, unit, fromProtoPeriod(req.GetPeriod()))
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.GetScorecardResponse{OrgUnitId: sc.Unit, FromDate: sc.From, ToDate: sc.To, Open: sc.Open, Overdue: sc.Overdue,
		SatisfactionGap: sc.SatisfactionGap}
	for _, f := range sc.Figures {
		resp.Figures = append(resp.Figures, toProtoFigure(f))
	}
	for _, st := range sc.Stages {
		resp.StageTimes = append(resp.StageTimes, &whistlev1.StageTime{Stage: st.Stage, Count: st.Count,
			Average: durationpb.New(st.Average), P90: durationpb.New(st.P90)})
	}
	return resp, nil
}

// rankingKinds maps ranking levels to the unit kinds kept.
var rankingKinds = map[whistlev1.RankingLevel]string{
	whistlev1.RankingLevel_RANKING_LEVEL_DISTRICT:   "district",
	whistlev1.RankingLevel_RANKING_LEVEL_STREET:     "street",
	whistlev1.RankingLevel_RANKING_LEVEL_COMMUNITY:  "community",
	whistlev1.RankingLevel_RANKING_LEVEL_DEPARTMENT: "department",
}

func (g *grpcServer) GetRankings(ctx context.Context, req *whistlev1.GetRankingsRequest) (*whistlev1.GetRankingsResponse, error) {
	within, err := g.rankingWithin(ctx, req)
	if err != nil {
		return nil, err
	}
	ranked, err := g.svc.Rankings(ctx, rankingKinds[req.GetLevel()], req.GetFigure(), within, fromProtoPeriod(req.GetPeriod()))
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.GetRankingsResponse{}
	for _, r := range ranked {
		resp.Entries = append(resp.Entries, &whistlev1.RankingEntry{Rank: int32(r.Rank), OrgUnitId: r.Unit, Figure: toProtoFigure(r.Figure)})
	}
	return resp, nil
}

func (g *grpcServer) ListOverdue(ctx context.Context, req *whistlev1.ListOverdueRequest) (*whistlev1.ListOverdueResponse, error) {
	after, err := fromOverdueToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	unit, err := g.unitFor(ctx, actOverdue, req.GetOrgUnitId())
	if err != nil {
		return nil, err
	}
	sts, next, err := g.svc.Overdue(ctx, unit, after, int(req.GetPageSize()))
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.ListOverdueResponse{NextPageToken: toOverdueToken(next)}
	for _, st := range sts {
		resp.Tickets = append(resp.Tickets, &whistlev1.OverdueTicket{State: toProtoState(st), Stage: st.OverdueStage,
			DueAt: timestamppb.New(st.StageDue)})
	}
	return resp, nil
}

func (g *grpcServer) GetEscalationBoard(ctx context.Context, req *whistlev1.GetEscalationBoardRequest) (*whistlev1.GetEscalationBoardResponse, error) {
	unit, err := g.unitFor(ctx, actBoard, req.GetOrgUnitId())
	if err != nil {
		return nil, err
	}
	rows, err := g.svc.Board(ctx, unit)
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.GetEscalationBoardResponse{}
	for _, r := range rows {
		resp.Rows = append(resp.Rows, &whistlev1.EscalationRow{OrgUnitId: r.Unit, Level_1: r.Level1, Level_2: r.Level2, Level_3: r.Level3})
	}
	return resp, nil
}

func (g *grpcServer) ListHotSpots(ctx context.Context, req *whistlev1.ListHotSpotsRequest) (*whistlev1.ListHotSpotsResponse, error) {
	unit, err := g.unitFor(ctx, actHotSpots, req.GetOrgUnitId())
	if err != nil {
		return nil, err
	}
	hs, err := g.svc.HotSpots(ctx, unit, int(req.GetPageSize()))
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.ListHotSpotsResponse{}
	for _, h := range hs {
		resp.HotSpots = append(resp.HotSpots, toProtoHotSpot(h))
	}
	return resp, nil
}

func (g *grpcServer) GetTopProblems(ctx context.Context, req *whistlev1.GetTopProblemsRequest) (*whistlev1.GetTopProblemsResponse, error) {
	district, err := g.unitFor(ctx, actTopProblems, req.GetDistrictId())
	if err != nil {
		return nil, err
	}
	ps, err := g.svc.TopProblems(ctx, district, req.GetMonth(), int(req.GetLimit()))
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.GetTopProblemsResponse{}
	for _, p := range ps.Problems {
		resp.Problems = append(resp.Problems, &whistlev1.TopProblem{Category: p.Category, Count: p.Count,
			PreviousCount: p.Previous, Share: p.Share})
	}
	for _, h := range ps.Clusters {
		resp.Clusters = append(resp.Clusters, toProtoHotSpot(h))
	}
	return resp, nil
}

// watchHeartbeat is how often an idle watch hears from the server.
const watchHeartbeat = 15 * time.Second

func (g *grpcServer) WatchEvents(req *whistlev1.WatchEventsRequest, stream whistlev1.MonitoringService_WatchEventsServer) error {
	if err := g.mayReadCity(stream.Context(), actWatch); err != nil {
		return err
	}
	return g.svc.Watch(stream.Context(), req.GetEventTypes(), watchHeartbeat,
		func(w Watched) error {
			// A watcher reads the whole city (monitors, admins): no place in it is
			// theirs to call residents from.
			e := masked(stream.Context(), policy.Resource{}, []Entry{w.Entry})[0]
			return stream.Send(&whistlev1.WatchEventsResponse{TicketId: w.TicketID, Entry: toProtoEntry(e)})
		},
		func() error { return stream.Send(&whistlev1.WatchEventsResponse{Heartbeat: true}) })
}

func (g *grpcServer) RebuildProjections(ctx context.Context, req *whistlev1.RebuildProjectionsRequest) (*whistlev1.RebuildProjectionsResponse, error) {
	if err := policy.ActingAs(ctx, req.GetActor().GetOrgUnitId()); err != nil {
		return nil, err
	}
	if err := policy.Authorize(ctx, actRebuild, policy.Resource{}); err != nil {
		return nil, err
	}
	g.svc.log.InfoContext(ctx, "rebuild asked", "actor", req.GetActor().GetId(), "org_unit", req.GetActor().GetOrgUnitId())
	r, err := g.svc.Rebuild(context.WithoutCancel(ctx), nil)
	if err != nil {
		return nil, err
	}
	return &whistlev1.RebuildProjectionsResponse{EventsReplayed: int64(r.Replayed), EventsSkipped: int64(r.Skipped),
		Took: durationpb.New(r.Took)}, nil
}

func fromProtoPeriod(p *whistlev1.Period) Period {
	return Period{Kind: PeriodKind(p.GetKind()), Date: p.GetDate(), From: p.GetFromDate(), To: p.GetToDate()}
}

func toProtoFigure(f Figure) *whistlev1.Figure {
	return &whistlev1.Figure{Name: f.Name, Numerator: f.Numerator, Denominator: f.Denominator, Rate: f.Rate()}
}

func toOverdueToken(c *overdueCursor) string {
	if c == nil {
		return ""
	}
	return pagetoken.Encode(strconv.Itoa(int(c.Level)) + "|" + c.Due.UTC().Format(time.RFC3339Nano) + "|" + c.TicketID)
}

func fromOverdueToken(token string) (overdueCursor, error) {
	raw, err := pagetoken.Decode(token)
	if err != nil {
		return overdueCursor{}, ErrBadPageToken
	}
	if raw == "" {
		return overdueCursor{}, nil
	}
	parts := strings.Split(raw, "|")
	if len(parts) != 3 || !ids.Valid(parts[2]) {
		return overdueCursor{}, ErrBadPageToken
	}
	level, lerr := strconv.Atoi(parts[0])
	due, derr := time.Parse(time.RFC3339Nano, parts[1])
	if lerr != nil || derr != nil {
		return overdueCursor{}, ErrBadPageToken
	}
	return overdueCursor{Level: int32(level), Due: due, TicketID: parts[2]}, nil
}

func toProtoHotSpot(h HotSpot) *whistlev1.HotSpot {
	out := &whistlev1.HotSpot{Id: h.ID, Rule: h.Rule, Category: h.Category, OrgUnitId: h.Place, TicketIds: h.TicketIDs,
		Explanation: h.Explanation, DetectedAt: timestamppb.New(h.DetectedAt), ProactiveTicketId: h.ProactiveTicketID}
	if sc := h.Scan; sc != nil {
		out.Scan = &whistlev1.ScanCluster{CentreGridId: sc.CentreGrid, GridIds: sc.Grids, RadiusMeters: sc.RadiusMeters,
			WindowDays: int32(sc.WindowDays), Observed: int32(sc.Observed), Expected: sc.Expected, LogLikelihoodRatio: sc.LLR,
			PValue: sc.P, RecurrenceDays: sc.RecurrenceDays(), Replicas: int32(sc.Replicas), UpdatedAt: timestamppb.New(sc.UpdatedAt)}
	}
	return out
}
