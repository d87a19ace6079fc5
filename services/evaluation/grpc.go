package evaluation

import (
	"context"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/idempotency"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/pagetoken"
	"github.com/whistle-civic/whistle/pkg/timeconv"
)

// grpcServer is the EvaluationService API.
type grpcServer struct {
	whistlev1.UnimplementedEvaluationServiceServer
	svc *Service
}

func (g *grpcServer) GetEvaluation(ctx context.Context, req *whistlev1.GetEvaluationRequest) (*whistlev1.GetEvaluationResponse, error) {
	if err := g.mayRead(ctx, req.GetTicketId()); err != nil {
		return nil, err
	}
	e, err := g.svc.Get(ctx, req.GetTicketId())
	if err != nil {
		return nil, err
	}
	return &whistlev1.GetEvaluationResponse{Evaluation: toProtoEvaluation(e)}, nil
}

func (g *grpcServer) ListOpenEvaluations(ctx context.Context, req *whistlev1.ListOpenEvaluationsRequest) (*whistlev1.ListOpenEvaluationsResponse, error) {
	after, err := fromPageToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	place, err := within(ctx)
	if err != nil {
		return nil, err
	}
	es, next, err := g.svc.ListOpen(ctx, OpenFilter{ReporterOrgUnitID: req.GetReporterOrgUnitId(), Within: place,
		After: after, Limit: int(req.GetPageSize())})
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.ListOpenEvaluationsResponse{NextPageToken: toPageToken(next)}
	for _, e := range es {
		resp.Evaluations = append(resp.Evaluations, toProtoEvaluation(e))
	}
	return resp, nil
}

// Evaluate runs once per (evaluator's org unit, request id) — a resident's
// once per (ticket, request id) — and retries get the first response. A
// resident's code is tried first, in a transaction of its own, so that a
// wrong one counts whatever happens to the call.
func (g *grpcServer) Evaluate(ctx context.Context, req *whistlev1.EvaluateRequest) (*whistlev1.EvaluateResponse, error) {
	ev, caller := req.GetEvaluator(), callerOf(ctx, req)
	acting, scope := ev.GetOrgUnitId(), ev.GetOrgUnitId()
	if caller.Resident {
		scope = "resident:" + req.GetTicketId()
	}
	target := req.GetTicketId()
	if caller.Resident { // a duplicate's resident judges the original it was merged into, with their own code
		var err error
		if target, err = g.svc.Original(ctx, req.GetTicketId()); err != nil {
			return nil, err
		}
	}
	if err := g.mayEvaluate(ctx, target, acting, req.GetEvaluationCode() != ""); err != nil {
		return nil, err
	}
	if caller.Resident {
		if err := g.svc.TryCode(ctx, target, req.GetTicketId(), req.GetEvaluationCode()); err != nil {
			return nil, err
		}
	}
	return idempotency.Do(ctx, g.svc.deps.DB, scope, req.GetRequestId(), "evaluation.Evaluate",
		func(ctx context.Context) (*whistlev1.EvaluateResponse, error) {
			e, err := g.svc.Evaluate(ctx, Judgement{
				TicketID: target, CodeFor: req.GetTicketId(), Verdict: Verdict(req.GetVerdict()), Comment: req.GetComment(),
				ReasonCodes: req.GetReasonCodes(), Caller: caller,
				Evaluator: Actor{ID: ev.GetId(), OrgUnitID: ev.GetOrgUnitId(), Name: ev.GetDisplayName()},
				Source:    Source(req.GetSource()), Code: req.GetEvaluationCode(), Photos: fromProtoPhotos(req.GetAttachments()),
			})
			return &whistlev1.EvaluateResponse{Evaluation: toProtoEvaluation(e)}, err
		})
}

func toProtoEvaluation(e Evaluation) *whistlev1.Evaluation {
	out := &whistlev1.Evaluation{
		TicketId: e.TicketID, TicketNumber: e.Number, Round: e.Round, State: whistlev1.EvaluationState(e.State),
		DepartmentId: e.DepartmentID, Result: e.Result, OpenedAt: timestamppb.New(e.OpenedAt),
		Verdict: whistlev1.Verdict(e.Verdict), Comment: e.Comment, EvaluatedAt: timeconv.ToProto(e.EvaluatedAt),
		ReporterOrgUnitId: e.ReporterOrgUnitID, Synthetic: e.Synthetic, Source: whistlev1.EvaluationSource(e.Source),
		DefaultVerdict: e.DefaultVerdict, DueAt: timeconv.ToProto(e.DueAt), ReasonCodes: e.ReasonCodes,
	}
	if e.Evaluator.ID != "" {
		out.Evaluator = &whistlev1.Actor{Id: e.Evaluator.ID, OrgUnitId: e.Evaluator.OrgUnitID, DisplayName: e.Evaluator.Name}
	}
	return out
}

// Page tokens encode the cursor "<opened_at in RFC 3339 nanoseconds>|<ticket id>".
func toPageToken(c *OpenCursor) string {
	if c == nil {
		return ""
	}
	return pagetoken.Encode(c.OpenedAt.UTC().Format(time.RFC3339Nano) + "|" + c.TicketID)
}

func fromPageToken(token string) (OpenCursor, error) {
	raw, err := pagetoken.Decode(token)
	if err != nil {
		return OpenCursor{}, ErrBadPageToken
	}
	if raw == "" {
		return OpenCursor{}, nil
	}
	at, id, ok := strings.Cut(raw, "|")
	t, terr := time.Parse(time.RFC3339Nano, at)
	if !ok || terr != nil || !ids.Valid(id) {
		return OpenCursor{}, ErrBadPageToken
	}
	return OpenCursor{OpenedAt: t, TicketID: id}, nil
}
