package monitoring

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/telemetry"
	"github.com/whistle-civic/whistle/pkg/ticket"
	"github.com/whistle-civic/whistle/pkg/timeconv"
)

// applyEvent projects any event about a ticket.
func (s *Service) applyEvent(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
	if ev.GetTicketId() == "" {
		return ticket.Apply, nil // proactive events concern no ticket yet
	}
	if ev.GetImported() != nil { // a whole history: applied as a batch of its events
		var decisions []ticket.Decision
		err := s.deps.DB.InTx(ctx, func(ctx context.Context, _ pgx.Tx) error {
			var err error
			decisions, err = s.projectSet(ctx, []inbox.Item{{Ctx: ctx, Event: ev}})
			return err
		})
		if err != nil || len(decisions) == 0 {
			return laterWhileRebuilding(0, err)
		}
		return decisions[0], nil
	}
	return laterWhileRebuilding(s.Project(ctx, ev.GetTicketId(), fromEvent(ctx, ev)))
}

// applyEvents projects a batch of events at once (see projectSet).
func (s *Service) applyEvents(ctx context.Context, items []inbox.Item) ([]ticket.Decision, error) {
	return s.projectSet(ctx, items)
}

// fromEvent reads what an event says about its ticket.
func fromEvent(ctx context.Context, ev *whistlev1.Event) Change {
	typ := events.TypeOf(ev)
	action, _ := events.ActionOf(typ)
	c := Change{Action: action, Number: ev.GetTicketNumber(), Historical: ev.GetHistorical(), Entry: Entry{
		EventID: ev.GetEventId(), EventType: typ, Version: ev.GetTicketVersion(), Transition: action != "",
		OccurredAt: ev.GetOccurredAt().AsTime(), ActorID: ev.GetActor().GetId(), ActorOrg: ev.GetActor().GetOrgUnitId(),
		ActorName: ev.GetActor().GetDisplayName(), Producer: ev.GetProducer(), TraceID: telemetry.TraceID(ctx),
	}}
	c.Entry.Summary = summary(ev, &c)
	return c
}

// summary says in words what the event did, and picks the facts the state keeps.
func summary(ev *whistlev1.Event, c *Change) string {
	switch b := ev.GetBody().(type) {
	case *whistlev1.Event_Reported:
		t := b.Reported.GetTicket()
		c.Category, c.ReportedAt, c.Synthetic = t.GetCategory(), t.GetReportedAt().AsTime(), ev.GetSynthetic()
		c.Grid, c.Source, c.IdempotencyKey = t.GetLocation().GetGridId(), int32(t.GetSource()), t.GetIdempotencyKey()
		return fmt.Sprintf("reported from %s via %s: %s", t.GetReporter().GetOrgUnitId(), short(t.GetSource().String()), t.GetCategory())
	case *whistlev1.Event_Triaged:
		c.Area = b.Triaged.GetAreaIds()
		if b.Triaged.GetArbitration() {
			return fmt.Sprintf("waits for arbitration at %s: %s", b.Triaged.GetOrgUnitId(), b.Triaged.GetReason())
		}
		return fmt.Sprintf("waits for a person at %s: %s", b.Triaged.GetOrgUnitId(), b.Triaged.GetReason())
	case *whistlev1.Event_Cancelled:
		if c.Withdrawn = b.Cancelled.GetWithdrawn(); c.Withdrawn {
			return "withdrawn by the reporter: " + b.Cancelled.GetReason()
		}
		return "cancelled: " + b.Cancelled.GetReason()
	case *whistlev1.Event_Merged:
		m := b.Merged
		c.MergedInto = m.GetOriginalTicketId()
		into := m.GetOriginalTicketNumber()
		if into == "" {
			into = m.GetOriginalTicketId()
		}
		if m.GetAcrossMatters() {
			return fmt.Sprintf("merged into %s (another matter type): %s", into, m.GetNote())
		}
		return fmt.Sprintf("merged into %s: %s", into, m.GetNote())
	case *whistlev1.Event_Rescheduled:
		c.AcceptDue, c.ResolveDue = timeconv.FromProto(b.Rescheduled.GetAcceptDue()), timeconv.FromProto(b.Rescheduled.GetResolveDue())
		return "deadlines rescheduled: " + b.Rescheduled.GetReason()
	case *whistlev1.Event_ExtensionRequested:
		return fmt.Sprintf("%s asks for more time, until %s: %s", b.ExtensionRequested.GetDepartmentId(),
			b.ExtensionRequested.GetRequestedResolveDue().AsTime().Format(time.RFC3339), b.ExtensionRequested.GetReason())
	case *whistlev1.Event_ExtensionDecided:
		verdict := "refused"
		if b.ExtensionDecided.GetGranted() {
			c.ResolveDue = timeconv.FromProto(b.ExtensionDecided.GetResolveDue())
			verdict = "granted, due " + b.ExtensionDecided.GetResolveDue().AsTime().Format(time.RFC3339)
		}
		return fmt.Sprintf("extension %s by %s: %s", verdict, b.ExtensionDecided.GetDecidedByOrgUnitId(), b.ExtensionDecided.GetNote())
	case *whistlev1.Event_Dispatched:
		d := b.Dispatched
		c.LeadDepartmentID, c.Area = d.GetLeadDepartmentId(), d.GetAreaIds()
		c.AcceptDue, c.ResolveDue = timeconv.FromProto(d.GetAcceptDue()), timeconv.FromProto(d.GetResolveDue())
		return "dispatched: " + b.Dispatched.GetRule()
	case *whistlev1.Event_Accepted:
		c.Department = b.Accepted.GetDepartmentId()
		return "accepted by " + b.Accepted.GetDepartmentId()
	case *whistlev1.Event_Progressed:
		return "progress from " + b.Progressed.GetDepartmentId() + ": " + b.Progressed.GetNote()
	case *whistlev1.Event_Returned:
		return fmt.Sprintf("returned by %s (%s): %s", b.Returned.GetDepartmentId(), short(b.Returned.GetReasonCode().String()), b.Returned.GetNote())
	case *whistlev1.Event_Arbitrated:
		c.LeadDepartmentID = b.Arbitrated.GetDepartmentId()
		c.AcceptDue, c.ResolveDue = timeconv.FromProto(b.Arbitrated.GetAcceptDue()), timeconv.FromProto(b.Arbitrated.GetResolveDue())
		return fmt.Sprintf("arbitrated by %s: %s must handle it", b.Arbitrated.GetDecidedByOrgUnitId(), b.Arbitrated.GetDepartmentId())
	case *whistlev1.Event_Escalated:
		c.EscalationLevel, c.Stage = b.Escalated.GetLevel(), b.Escalated.GetStage()
		return fmt.Sprintf("escalated to level %d (%s overdue), supervised by %s", b.Escalated.GetLevel(), b.Escalated.GetStage(), b.Escalated.GetNotifiedOrgUnitId())
	case *whistlev1.Event_Resolved:
		c.Department = b.Resolved.GetDepartmentId()
		return "resolved by " + b.Resolved.GetDepartmentId() + ": " + b.Resolved.GetResult()
	case *whistlev1.Event_EvaluationOpened:
		o := b.EvaluationOpened
		return fmt.Sprintf("evaluation open (round %d) for %s's work until %s", o.GetRound(), o.GetDepartmentId(),
			o.GetEvaluateDue().AsTime().Format(time.RFC3339))
	case *whistlev1.Event_Evaluated:
		e := b.Evaluated
		c.Department, c.Evaluated = e.GetDepartmentId(), !e.GetDefaultVerdict()
		c.Satisfied = c.Evaluated && ticket.Verdict(e.GetVerdict()).Satisfied()
		if e.GetDefaultVerdict() {
			return fmt.Sprintf("evaluation window passed (round %d): default verdict %s", e.GetRound(), short(e.GetVerdict().String()))
		}
		return fmt.Sprintf("evaluated (round %d) by %s: %s", e.GetRound(), short(e.GetSource().String()), short(e.GetVerdict().String()))
	case *whistlev1.Event_Reopened:
		c.ReworkCount = b.Reopened.GetReworkCount()
		return fmt.Sprintf("reopened for rework #%d: %s", b.Reopened.GetReworkCount(), strings.Join(b.Reopened.GetReasonCodes(), ", "))
	case *whistlev1.Event_Repeated:
		return "reported again at its place within 30 days of its close: " + b.Repeated.GetByTicketNumber()
	case *whistlev1.Event_CalledBack:
		cb := b.CalledBack
		c.CalledBack = &CallBackOutcome{Reached: cb.GetReached(), Satisfied: ticket.Verdict(cb.GetVerdict()).Satisfied()}
		if !cb.GetReached() {
			return "call-back: no one reached. " + cb.GetNote()
		}
		return "call-back: " + short(cb.GetVerdict().String()) + ". " + cb.GetNote()
	case *whistlev1.Event_Closed:
		c.DefaultClose, c.CallBack = b.Closed.GetDefaultVerdict(), b.Closed.GetCallBack()
		if c.DefaultClose {
			return "closed with the default verdict " + short(b.Closed.GetFinalVerdict().String())
		}
		return "closed: " + short(b.Closed.GetFinalVerdict().String())
	}
	return events.TypeOf(ev)
}

// short drops an enum value's type prefix: VERDICT_SATISFIED → satisfied.
func short(enum string) string {
	for _, p := range []string{"VERDICT_", "SOURCE_", "RETURN_REASON_", "EVALUATION_SOURCE_"} {
		enum = strings.TrimPrefix(enum, p)
	}
	return strings.ToLower(enum)
}

// toCalledBackEvent records a call-back's outcome at the ticket's version.
func toCalledBackEvent(st State, in CallBackInput, at time.Time) *whistlev1.Event {
	return events.MustNew(events.Meta{TicketID: st.TicketID, TicketNumber: st.Number, Version: st.Version, OccurredAt: at,
		Producer: Name, Synthetic: st.Synthetic, Actor: &whistlev1.Actor{Id: in.By.ID, OrgUnitId: in.By.OrgUnitID, DisplayName: in.By.Name}},
		&whistlev1.TicketCalledBack{Reached: in.Reached, Verdict: whistlev1.Verdict(in.Verdict), Note: in.Note})
}

// toProactiveEvent asks intake for a proactive ticket for a hot spot.
func toProactiveEvent(h HotSpot) *whistlev1.Event {
	return events.MustNew(events.Meta{OccurredAt: h.DetectedAt, Producer: Name,
		Actor: &whistlev1.Actor{Id: "monitoring:" + h.Rule, OrgUnitId: Name, DisplayName: "hot spot rules"}},
		&whistlev1.HotSpotDetected{HotSpotId: h.ID, Category: h.Category, GridId: h.Grid, TicketIds: h.TicketIDs,
			Rule: h.Rule, Description: h.Explanation})
}
