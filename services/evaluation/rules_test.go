package evaluation_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/services/evaluation"
)

func TestWhoMayEvaluate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	judge := func(id string, src whistlev1.EvaluationSource, org, code string) error {
		_, err := f.client.Evaluate(ctx, &whistlev1.EvaluateRequest{TicketId: id, Verdict: whistlev1.Verdict_VERDICT_SATISFIED,
			Source: src, EvaluationCode: code, Evaluator: &whistlev1.Actor{Id: "e", OrgUnitId: org}})
		return err
	}
	ticketFor := func() string {
		id := ids.New()
		f.reported(t, id, "xc-hd-dj-g01")
		f.deliver(t, events.MustNew(events.Meta{TicketID: id, Version: 4, OccurredAt: now, Producer: "response"},
			&whistlev1.TicketResolved{DepartmentId: "xc-urban", Result: "fixed"}))
		return id
	}
	const rightCode = "(the ticket's own)"
	tests := []struct {
		name string
		src  whistlev1.EvaluationSource
		org  string
		code string
		ok   bool
	}{
		{"the reporting grid", 0, "xc-hd-dj-g01", "", true},
		{"the ticket's community", whistlev1.EvaluationSource_EVALUATION_SOURCE_COMMUNITY, "xc-hd-dj", "", true},
		{"another community", whistlev1.EvaluationSource_EVALUATION_SOURCE_COMMUNITY, "xc-hd-wy", "", false},
		{"the street is not the community", 0, "xc-hd", "", false},
		{"the department judged", whistlev1.EvaluationSource_EVALUATION_SOURCE_HOTLINE_FOLLOW_UP, "xc-urban", "", false},
		{"the resident with the code", whistlev1.EvaluationSource_EVALUATION_SOURCE_RESIDENT, "", rightCode, true},
		{"the resident with a wrong code", whistlev1.EvaluationSource_EVALUATION_SOURCE_RESIDENT, "", "WRONG123", false},
		{"the resident's source without a code", whistlev1.EvaluationSource_EVALUATION_SOURCE_RESIDENT, "xc-hd-dj", "", false},
		{"a code as a hotline follow-up", whistlev1.EvaluationSource_EVALUATION_SOURCE_HOTLINE_FOLLOW_UP, "hotline-12345", rightCode, false},
		{"a code as the community", whistlev1.EvaluationSource_EVALUATION_SOURCE_COMMUNITY, "xc-hd-dj", rightCode, false},
		{"a hotline follow-up", whistlev1.EvaluationSource_EVALUATION_SOURCE_HOTLINE_FOLLOW_UP, "hotline-12345", "", true},
	}
	for _, tt := range tests {
		id := ticketFor()
		code := tt.code
		if code == rightCode {
			code = strings.ToLower(codeKeys.Code(id)) // as a resident may type it
		}
		err := judge(id, tt.src, tt.org, code)
		if tt.ok && err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if !tt.ok && status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s: %v, want PermissionDenied", tt.name, err)
		}
	}
	if err := judge(ticketFor(), whistlev1.EvaluationSource_EVALUATION_SOURCE_DEFAULT, "xc-hd-dj", ""); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a default verdict by hand: %v", err)
	}
}

// Wrong codes are counted per ticket, whatever request ids they come with,
// and lock that ticket's code after five; another ticket's resident is not
// affected; a code gives one verdict a round.
func TestWrongCodesLockTheTicketsCode(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	resolved := func() string {
		id := ids.New()
		f.resolved(t, id, 4)
		return id
	}
	judge := func(id, code, requestID string) error {
		_, err := f.client.Evaluate(ctx, &whistlev1.EvaluateRequest{TicketId: id, Verdict: whistlev1.Verdict_VERDICT_UNSATISFIED,
			Source: whistlev1.EvaluationSource_EVALUATION_SOURCE_RESIDENT, EvaluationCode: code, RequestId: requestID,
			Evaluator: &whistlev1.Actor{Id: "r"}})
		return err
	}
	locked, other := resolved(), resolved()
	for i := range 5 {
		err := judge(locked, "WRONG234", fmt.Sprint("try-", i))
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), fmt.Sprintf("%d of 5 wrong tries", i+1)) {
			t.Fatalf("wrong code %d: %v", i+1, err)
		}
	}
	if err := judge(locked, codeKeys.Code(locked), "right"); status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("the right code after five wrong ones: %v, want the code locked", err)
	}
	if err := judge(other, codeKeys.Code(other), "right"); err != nil {
		t.Fatalf("another ticket's resident: %v", err)
	}
	if got, _ := f.client.GetEvaluation(ctx, &whistlev1.GetEvaluationRequest{TicketId: locked}); got.GetEvaluation().GetState() != whistlev1.EvaluationState_EVALUATION_STATE_OPEN {
		t.Fatalf("the locked ticket's round: %v", got.GetEvaluation())
	}
	// Reworked and resolved again: the code judges the new round, once.
	f.resolved(t, other, 6)
	if err := judge(other, codeKeys.Code(other), "round-2"); err != nil {
		t.Fatalf("the code in the next round: %v", err)
	}
	f.resolved(t, other, 8)
	if err := judge(other, codeKeys.Code(other), "round-3"); err != nil {
		t.Fatalf("the code in the third round: %v", err)
	}
	if err := judge(other, codeKeys.Code(other), "round-3-again"); status.Code(err) != codes.FailedPrecondition ||
		!strings.Contains(err.Error(), "already given this round's verdict") {
		t.Fatalf("the code again in the same round: %v", err)
	}
}

var cst = time.FixedZone("CST", 8*3600)

// The window is five working days; nobody judges; the default verdict closes
// the ticket, recorded as a default; a late verdict is refused.
func TestWindowClosesWithTheDefaultVerdict(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, evaluation.Config{WindowDays: 5, DefaultVerdict: evaluation.BasicallySatisfied})
	ctx := context.Background()
	id := ids.New()
	resolvedAt := time.Date(2026, 11, 26, 10, 0, 0, 0, cst) // a Thursday
	f.clock.Set(resolvedAt)
	f.reported(t, id, "xc-hd-dj-g01")
	f.deliver(t, events.MustNew(events.Meta{TicketID: id, TicketNumber: "HH-1", Version: 4, OccurredAt: resolvedAt, Producer: "response"},
		&whistlev1.TicketResolved{DepartmentId: "xc-urban", Result: "fixed"}))
	got, _ := f.client.GetEvaluation(ctx, &whistlev1.GetEvaluationRequest{TicketId: id})
	due := time.Date(2026, 12, 3, 10, 0, 0, 0, cst) // five working days later
	if !got.GetEvaluation().GetDueAt().AsTime().Equal(due) {
		t.Fatalf("window closes %s, want %s", got.GetEvaluation().GetDueAt().AsTime().In(cst), due)
	}
	f.clock.Set(due.Add(-time.Minute))
	if n, err := f.svc.CloseExpired(ctx); err != nil || n != 0 {
		t.Fatalf("before the window closed: %d, %v", n, err)
	}
	f.clock.Set(due.Add(time.Minute))
	_, err := f.client.Evaluate(ctx, &whistlev1.EvaluateRequest{TicketId: id, Verdict: whistlev1.Verdict_VERDICT_UNSATISFIED,
		Evaluator: &whistlev1.Actor{Id: "e", OrgUnitId: "xc-hd-dj"}})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("a verdict after the window: %v", err)
	}
	if n, err := f.svc.CloseExpired(ctx); err != nil || n != 1 {
		t.Fatalf("closing expired: %d, %v", n, err)
	}
	if n, _ := f.svc.CloseExpired(ctx); n != 0 {
		t.Fatalf("closed again: %d", n)
	}
	evs := f.verdicts(t)
	if len(evs) != 2 || !evs[0].GetEvaluated().GetDefaultVerdict() || evs[0].GetEvaluated().GetSource() != whistlev1.EvaluationSource_EVALUATION_SOURCE_DEFAULT ||
		evs[0].GetEvaluated().GetVerdict() != whistlev1.Verdict_VERDICT_BASICALLY_SATISFIED || !evs[1].GetClosed().GetDefaultVerdict() {
		t.Fatalf("events %v", evs)
	}
}

func TestReworkLimitRaisesSupervision(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, evaluation.Config{MaxReworks: 1})
	ctx := context.Background()
	id := ids.New()
	for round, version := range []int64{4, 6} {
		f.resolved(t, id, version)
		if _, err := f.client.Evaluate(ctx, &whistlev1.EvaluateRequest{TicketId: id, Verdict: whistlev1.Verdict_VERDICT_UNSATISFIED,
			Evaluator: community}); err != nil {
			t.Fatal(err)
		}
		evs := platformtest.Outbox(t, f.deps.DB)
		reopened := evs[len(evs)-1].GetReopened()
		if reopened.GetReworkCount() != int32(round+1) || reopened.GetEscalate() != (round == 1) {
			t.Fatalf("round %d: %v", round+1, reopened)
		}
	}
}
