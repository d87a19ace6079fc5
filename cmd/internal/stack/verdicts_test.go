package stack_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/eventually"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

// TestNobodyForgesAVerdict tries, through the real server, every way of
// judging a resolved ticket one may not: each is refused and leaves the
// ticket resolved, with no verdict and no audit row; then the resident's
// own code closes it.
func TestNobodyForgesAVerdict(t *testing.T) {
	r := stacktest.Start(t)
	fx := authzFixture(t, r)
	ctx := context.Background()
	id := fx.judged
	const (
		resident  = whistlev1.EvaluationSource_EVALUATION_SOURCE_RESIDENT
		hotline   = whistlev1.EvaluationSource_EVALUATION_SOURCE_HOTLINE_FOLLOW_UP
		community = whistlev1.EvaluationSource_EVALUATION_SOURCE_COMMUNITY
	)
	tests := []struct {
		name    string
		as      loop.Clients
		src     whistlev1.EvaluationSource
		code    string
		unit    string
		want    codes.Code
		without bool // no credentials
	}{
		{"no token, a made-up code, as a hotline follow-up", r.Clients, hotline, "ABCD2345", "hh", codes.Unauthenticated, true},
		{"no token, the right code, as a hotline follow-up", r.Clients, hotline, fx.code, "hh", codes.Unauthenticated, true},
		{"no token, the right code, as the community", r.Clients, community, fx.code, "xc-hd-dj", codes.Unauthenticated, true},
		{"no token, the right code, no source", r.Clients, 0, fx.code, "xc-hd-dj", codes.Unauthenticated, true},
		{"no token, a wrong code, as the resident", r.Clients, resident, "WRONG234", "", codes.PermissionDenied, true},
		{"a community officer as a hotline follow-up", r.As(auth.RoleCommunityOfficer, "xc-hd-dj"), hotline, "", "xc-hd-dj", codes.PermissionDenied, false},
		{"a community officer with the code, as the resident", r.As(auth.RoleCommunityOfficer, "xc-hd-dj"), resident, fx.code, "xc-hd-dj", codes.PermissionDenied, false},
		{"another community's officer", r.As(auth.RoleCommunityOfficer, "xc-hd-wy"), community, "", "xc-hd-wy", codes.NotFound, false},
		{"the community's officer naming no unit", r.As(auth.RoleCommunityOfficer, "xc-hd-dj"), community, "", "", codes.PermissionDenied, false},
		{"the community's officer naming another unit", r.As(auth.RoleCommunityOfficer, "xc-hd-dj"), community, "", "xc-hd-wy", codes.PermissionDenied, false},
		{"a system naming no unit", r.As(auth.RoleSystem, "hh"), hotline, "", "", codes.PermissionDenied, false},
		{"a system as the community", r.As(auth.RoleSystem, "hh"), community, "", "hh", codes.PermissionDenied, false},
		{"the department that handled it", r.As(auth.RoleDepartmentHandler, "xc-urban"), community, "", "xc-urban", codes.PermissionDenied, false},
		{"a street officer", r.As(auth.RoleStreetOfficer, "xc-hd"), community, "", "xc-hd", codes.PermissionDenied, false},
	}
	admin := r.As(auth.RoleAdmin, r.City)
	audited := func() int {
		resp, err := admin.Audit.ListAudit(ctx, &whistlev1.ListAuditRequest{TicketId: id, PageSize: 500})
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.GetEntries())
	}
	before := audited()
	for i, tt := range tests {
		_, err := tt.as.Evaluation.Evaluate(ctx, &whistlev1.EvaluateRequest{TicketId: id, Verdict: whistlev1.Verdict_VERDICT_SATISFIED,
			Source: tt.src, EvaluationCode: tt.code, RequestId: fmt.Sprint("forge-", i),
			Evaluator: &whistlev1.Actor{Id: "someone", OrgUnitId: tt.unit}})
		if status.Code(err) != tt.want {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.want)
		}
	}
	got, err := admin.Evaluation.GetEvaluation(ctx, &whistlev1.GetEvaluationRequest{TicketId: id})
	if err != nil || got.GetEvaluation().GetState() != whistlev1.EvaluationState_EVALUATION_STATE_OPEN {
		t.Fatalf("after the forgeries the round is %v (%v), want still open", got.GetEvaluation(), err)
	}
	if n := audited(); n != before {
		t.Fatalf("the forgeries left %d audit rows", n-before)
	}
	// The resident's own code, with no credentials, judges it.
	if _, err := r.Clients.Evaluation.Evaluate(ctx, &whistlev1.EvaluateRequest{TicketId: id, Verdict: whistlev1.Verdict_VERDICT_SATISFIED,
		Source: resident, EvaluationCode: fx.code, Evaluator: &whistlev1.Actor{Id: "me"}}); err != nil {
		t.Fatalf("the resident's own code: %v", err)
	}
	eventually.True(t, "the resident's verdict to close the ticket", func() bool {
		tl, err := admin.Monitoring.GetTimeline(ctx, &whistlev1.GetTimelineRequest{TicketId: id})
		return err == nil && tl.GetState().GetStatus() == whistlev1.TicketStatus_TICKET_STATUS_CLOSED
	})
}
