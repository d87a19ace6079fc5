package stack_test

import (
	"context"
	"testing"

	"github.com/whistle-civic/whistle/pkg/eventually"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/services/evaluation"

	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

// TestFiguresThatResistGaming runs the figures a closing rate cannot fake
// through the whole stack: a closed ticket whose matter is reported again at
// its place counts as repeated, once, however often it recurs; a ticket
// drawn at its close (every one, here) is listed for a call-back, and the
// reporter's verdict on the phone moves the audited satisfaction rate, not
// the evaluated one.
func TestFiguresThatResistGaming(t *testing.T) {
	r := stacktest.StartWith(t, stacktest.Options{Evaluation: evaluation.Config{CallBackShare: 1}})
	s := scenario{t: t, r: r, ctx: context.Background()}
	const grid, community = "xc-hd-dj-g01", "xc-hd-dj"

	first := s.report("gaming-1", "drain_blocked", grid)
	eventually.True(t, first+" dispatched", func() bool { return s.state(first).GetLeadDepartmentId() != "" })
	dept := s.state(first).GetLeadDepartmentId()
	s.finish(first, dept, community)
	s.waitFigures(dept, map[string]string{"closing_rate": "1/1", "stayed_resolved_rate": "1/1", "repeated": "0/1"})

	// The same drain, blocked again: the first ticket did not stay resolved.
	again := s.report("gaming-2", "drain_blocked", grid)
	s.waitFigures(dept, map[string]string{"stayed_resolved_rate": "0/1", "repeated": "1/1"})
	third := s.report("gaming-3", "drain_blocked", grid)
	for _, id := range []string{again, third} {
		eventually.True(t, id+" dispatched", func() bool { return s.state(id).GetLeadDepartmentId() != "" })
	}
	timeline, err := s.monitor().Monitoring.GetTimeline(s.ctx, &whistlev1.GetTimelineRequest{TicketId: first})
	s.do("timeline", err)
	var repeats int
	for _, e := range timeline.GetEntries() {
		if e.GetEventType() == "repeated" {
			repeats++
		}
	}
	if got := s.figures(dept)["repeated"]; got != "1/1" || repeats != 1 {
		t.Fatalf("after a third report: repeated %s, %d repeated events on the first ticket; want 1/1 and one", got, repeats)
	}

	// The call-back: the first ticket was drawn at its close.
	list, err := s.monitor().Monitoring.ListCallBacks(s.ctx, &whistlev1.ListCallBacksRequest{PendingOnly: true})
	s.do("list call-backs", err)
	if len(list.GetCallBacks()) != 1 || list.GetCallBacks()[0].GetTicketId() != first {
		t.Fatalf("call-backs to make: %v, want the first ticket's", list.GetCallBacks())
	}
	if _, err := s.monitor().Monitoring.RecordCallBack(s.ctx, &whistlev1.RecordCallBackRequest{TicketId: first, Reached: true,
		Verdict: whistlev1.Verdict_VERDICT_UNSATISFIED, Note: "still blocked"}); err != nil {
		t.Fatal(err)
	}
	s.waitFigures(dept, map[string]string{"satisfaction_rate": "1/1", "audited_satisfaction_rate": "0/1"})
	s.waitFigures(community, map[string]string{"audited_satisfaction_rate": "0/1", "stayed_resolved_rate": "0/1"})
}
