package intake

import (
	"cmp"

	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ticket"
	"github.com/whistle-civic/whistle/pkg/timeconv"
)

// toImportedEvents announces an imported ticket: one imported event at its
// last version, carrying the events its life raised, each marked historical
// and made as the service that would have raised it live makes it.
func toImportedEvents(r importedRow) []*whistlev1.Event {
	t := r.Ticket
	history := make([]*whistlev1.Event, len(r.Life))
	for i, h := range r.Life {
		producer, actor, body := happeningBody(t, r.Area, h)
		ev := events.MustNew(events.Meta{TicketID: t.ID, TicketNumber: t.Number, Version: h.Version, OccurredAt: h.At,
			Producer: producer, Actor: actor}, body)
		ev.Historical = true
		history[i] = ev
	}
	last := r.Life[len(r.Life)-1]
	ev := events.MustNew(events.Meta{TicketID: t.ID, TicketNumber: t.Number, Version: last.Version, OccurredAt: t.ReportedAt,
		Producer: Name, Actor: &whistlev1.Actor{Id: "import:" + r.ExternalID, OrgUnitId: t.Reporter.OrgUnitID, DisplayName: "import"}},
		&whistlev1.TicketImported{ExternalId: r.ExternalID, History: history})
	ev.Historical = true
	return []*whistlev1.Event{ev}
}

// happeningBody is the producer, actor and body of one event of an imported life.
func happeningBody(t Ticket, area []string, h Happening) (string, *whistlev1.Actor, proto.Message) {
	if h.Step == nil {
		return Name, &whistlev1.Actor{Id: "reporter:" + t.Reporter.OrgUnitID, OrgUnitId: t.Reporter.OrgUnitID, DisplayName: t.Reporter.Name},
			&whistlev1.TicketReported{Ticket: toProtoTicket(t)}
	}
	st := h.Step
	actor := &whistlev1.Actor{Id: st.Actor.ID, OrgUnitId: st.Actor.OrgUnitID, DisplayName: st.Actor.Name}
	if actor.Id == "" {
		actor = &whistlev1.Actor{Id: "import", OrgUnitId: st.Department, DisplayName: "imported history"}
	}
	switch h.Type {
	case "dispatched":
		return events.Dispatch, actor, &whistlev1.TicketDispatched{LeadDepartmentId: st.Department,
			AcceptDue: timeconv.ToProto(st.AcceptDue), ResolveDue: timeconv.ToProto(st.ResolveDue), Rule: cmp.Or(st.Note, "imported"),
			AreaIds: area}
	case "arbitrated":
		return events.Dispatch, actor, &whistlev1.TicketArbitrated{DepartmentId: st.Department, DecidedByOrgUnitId: st.Actor.OrgUnitID,
			Note: st.Note, AcceptDue: timeconv.ToProto(st.AcceptDue), ResolveDue: timeconv.ToProto(st.ResolveDue)}
	case "accepted":
		return events.Response, actor, &whistlev1.TicketAccepted{DepartmentId: st.Department}
	case "returned":
		return events.Response, actor, &whistlev1.TicketReturned{DepartmentId: st.Department,
			ReasonCode: whistlev1.ReturnReason(st.ReturnReason), Note: st.Note}
	case "escalated":
		return events.Dispatch, actor, &whistlev1.TicketEscalated{Level: st.EscalationLevel, Stage: st.EscalationStage}
	case "resolved":
		return events.Response, actor, &whistlev1.TicketResolved{DepartmentId: st.Department, Result: st.Note}
	case "evaluated":
		return events.Evaluation, actor, &whistlev1.TicketEvaluated{Verdict: whistlev1.Verdict(st.Verdict), Comment: st.Note,
			Round: h.Round, DefaultVerdict: st.EvaluationSource == sourceDefault, DepartmentId: h.Lead,
			Source: whistlev1.EvaluationSource(st.EvaluationSource)}
	case "closed":
		return events.Evaluation, actor, &whistlev1.TicketClosed{FinalVerdict: whistlev1.Verdict(st.Verdict), DefaultVerdict: h.Default}
	case "reopened":
		return events.Evaluation, actor, &whistlev1.TicketReopened{DepartmentId: h.Lead, Comment: st.Note, ReworkCount: h.Reworks}
	default: // cancelled
		return events.Dispatch, actor, &whistlev1.TicketCancelled{Reason: st.Note, Withdrawn: st.Withdrawn}
	}
}

// finalStatus is the status the last event of an imported life leaves the ticket in.
func finalStatus(eventType string) ticket.Status {
	a, _ := events.ActionOf(eventType)
	return ticket.Target(a)
}
