package monitoring

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/policy"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

func (g *grpcServer) ListCallBacks(ctx context.Context, req *whistlev1.ListCallBacksRequest) (*whistlev1.ListCallBacksResponse, error) {
	unit, err := g.unitFor(ctx, actCallBacks, req.GetOrgUnitId())
	if err != nil {
		return nil, err
	}
	cbs, err := g.svc.CallBacks(ctx, unit, req.GetPendingOnly(), int(req.GetPageSize()))
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.ListCallBacksResponse{}
	for _, c := range cbs {
		resp.CallBacks = append(resp.CallBacks, toProtoCallBack(c))
	}
	return resp, nil
}

// RecordCallBack records a call-back as the caller (its credentials' subject
// and unit, never what the request claims), for a ticket in the caller's
// area; one elsewhere is "not found".
func (g *grpcServer) RecordCallBack(ctx context.Context, req *whistlev1.RecordCallBackRequest) (*whistlev1.RecordCallBackResponse, error) {
	p, _ := auth.FromContext(ctx) // none only on a server without authentication; Authorize decides
	in := CallBackInput{TicketID: req.GetTicketId(), Reached: req.GetReached(), Verdict: ticket.Verdict(req.GetVerdict()),
		Note: strings.TrimSpace(req.GetNote()), By: Actor{ID: p.Subject, OrgUnitID: p.OrgUnit}}
	cb, err := g.svc.RecordCallBack(ctx, in, func(st State) error {
		err := policy.Authorize(ctx, actRecordCallBack, policy.Resource{Ticket: true, Areas: st.Area})
		if errors.Is(err, policy.ErrOutOfScope) {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &whistlev1.RecordCallBackResponse{CallBack: toProtoCallBack(cb)}, nil
}

func toProtoCallBack(c CallBack) *whistlev1.CallBack {
	return &whistlev1.CallBack{TicketId: c.TicketID, TicketNumber: c.Number, Category: c.Category, LeadDepartmentId: c.LeadDepartmentID,
		ClosedAt: timestamppb.New(c.ClosedAt), Done: c.Done, Reached: c.Reached, Verdict: whistlev1.Verdict(c.Verdict)}
}
