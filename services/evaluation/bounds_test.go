package evaluation_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver/grpctest"
	"github.com/whistle-civic/whistle/pkg/ids"
)

// TestOutOfBoundsRequestsChangeNothing sends verdicts evaluation would take
// (a resolved ticket, its community), each with one field out of its bound:
// every one is InvalidArgument naming the field, and the round stays open.
func TestOutOfBoundsRequestsChangeNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := ids.New()
	f.resolved(t, id, 4)
	before, err := f.client.GetEvaluation(ctx, &whistlev1.GetEvaluationRequest{TicketId: id})
	if err != nil {
		t.Fatal(err)
	}
	evaluate := func(change func(r *whistlev1.EvaluateRequest)) func() error {
		return func() error {
			r := &whistlev1.EvaluateRequest{TicketId: id, Verdict: whistlev1.Verdict_VERDICT_UNSATISFIED, Comment: "still broken",
				ReasonCodes: []string{"not_fixed"}, Evaluator: proto.Clone(community).(*whistlev1.Actor)}
			change(r)
			_, err := f.client.Evaluate(ctx, r)
			return err
		}
	}
	tests := []struct {
		name  string
		call  func() error
		field string // the status message names it
	}{
		{"bidi override in a comment", evaluate(func(r *whistlev1.EvaluateRequest) { r.Comment = "\u202esatisfied" }), "comment"},
		{"bidi isolate in the evaluator's name", evaluate(func(r *whistlev1.EvaluateRequest) {
			r.Evaluator.DisplayName = "Zhao\u2067"
		}), "evaluator.display_name"},
		{"a reason code twice", evaluate(func(r *whistlev1.EvaluateRequest) { r.ReasonCodes = []string{"slow", "slow"} }), "reason_codes"},
		{"evaluation code with a space", evaluate(func(r *whistlev1.EvaluateRequest) { r.EvaluationCode = "12 34" }), "evaluation_code"},
		{"evaluator id with a space", evaluate(func(r *whistlev1.EvaluateRequest) { r.Evaluator.Id = "officer 7" }), "evaluator.id"},
		{"comment of 2001 characters", evaluate(func(r *whistlev1.EvaluateRequest) { r.Comment = strings.Repeat("差", 2001) }), "comment"},
		{"open rounds of a unit with spaces", func() error {
			_, err := f.client.ListOpenEvaluations(ctx, &whistlev1.ListOpenEvaluationsRequest{ReporterOrgUnitId: "xc hd"})
			return err
		}, "reporter_org_unit_id"},
		{"page token with other characters", func() error {
			_, err := f.client.ListOpenEvaluations(ctx, &whistlev1.ListOpenEvaluationsRequest{PageToken: "a+b/c="})
			return err
		}, "page_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { grpctest.WantInvalidArgument(t, tt.call(), tt.field) })
	}
	if n := len(f.verdicts(t)); n != 0 {
		t.Fatalf("refused verdicts wrote %d events", n)
	}
	after, err := f.client.GetEvaluation(ctx, &whistlev1.GetEvaluationRequest{TicketId: id})
	if err != nil || !proto.Equal(before, after) {
		t.Fatalf("round changed:\n before %v\n after  %v (%v)", before, after, err)
	}
}
