package response

import (
	"context"

	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/telemetry"
	"github.com/whistle-civic/whistle/pkg/ticket"
	"github.com/whistle-civic/whistle/pkg/timeconv"
)

// What the response service consumes besides dispatched: arbitrations, the
// ends of tickets, and dispatch's notes on deadlines and supervision.
var (
	finishing   = []string{events.Closed, events.Merged, events.Cancelled}
	supervising = []string{events.Escalated, events.Rescheduled, events.ExtensionDecided}
)

// consumer is the response service's one consumer. It took over the work of
// response-rework, response-finish and response-supervision (migration 00005
// carries their inbox over).
func (s *Service) consumer() platform.Consumer {
	routes := platform.Routes{events.Dispatched: s.applyDispatched, events.Arbitrated: s.applyDispatched,
		events.Reopened: s.applyReopened}
	for _, t := range finishing {
		routes[t] = s.applyFinished
	}
	for _, t := range supervising {
		routes[t] = s.applySupervision
	}
	types, apply := platform.Route(routes)
	return platform.Consumer{Name: Name, EventTypes: types, Apply: apply,
		Replaces: []string{Name + "-rework", Name + "-finish", Name + "-supervision"}}
}

func (s *Service) applyDispatched(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
	if a := ev.GetArbitrated(); a != nil {
		return s.Receive(ctx, Assigned{TicketID: ev.GetTicketId(), Number: ev.GetTicketNumber(), Version: ev.GetTicketVersion(),
			DepartmentID: a.GetDepartmentId(), AcceptDue: timeconv.FromProto(a.GetAcceptDue()),
			ResolveDue: timeconv.FromProto(a.GetResolveDue()), Binding: true})
	}
	d := ev.GetDispatched()
	// Departments work from their inbox, which keeps no personal data: the
	// reporter is kept as the org unit only.
	t := proto.CloneOf(d.GetTicket())
	if t.GetReporter() != nil {
		t.Reporter = &whistlev1.Reporter{OrgUnitId: t.GetReporter().GetOrgUnitId()}
	}
	snapshot, err := proto.Marshal(t)
	if err != nil {
		return 0, err
	}
	return s.Receive(ctx, Assigned{
		TicketID: ev.GetTicketId(), Number: ev.GetTicketNumber(), Version: ev.GetTicketVersion(),
		DepartmentID: d.GetLeadDepartmentId(), Category: d.GetTicket().GetCategory(), Title: d.GetTicket().GetTitle(),
		Synthetic: ev.GetSynthetic(), AcceptDue: timeconv.FromProto(d.GetAcceptDue()),
		ResolveDue: timeconv.FromProto(d.GetResolveDue()), EscalationLevel: d.GetEscalationLevel(),
		TraceParent: telemetry.TraceParent(ctx), Snapshot: snapshot, Assisting: d.GetAssistingDepartmentIds(),
		Area: d.GetAreaIds(),
	})
}

func (s *Service) applyReopened(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
	r := ev.GetReopened()
	return s.Rework(ctx, Reopening{TicketID: ev.GetTicketId(), Version: ev.GetTicketVersion(),
		Reasons: r.GetReasonCodes(), Comment: r.GetComment(), ReworkCount: r.GetReworkCount()})
}

func (s *Service) applyFinished(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
	action, _ := events.ActionOf(events.TypeOf(ev))
	return s.Finish(ctx, ev.GetTicketId(), ev.GetTicketVersion(), action)
}

func (s *Service) applySupervision(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
	sv := Supervision{TicketID: ev.GetTicketId()}
	switch b := ev.GetBody().(type) {
	case *whistlev1.Event_Escalated:
		sv.Level = b.Escalated.GetLevel()
	case *whistlev1.Event_Rescheduled:
		sv.Rescheduled = true
		sv.AcceptDue, sv.ResolveDue = timeconv.FromProto(b.Rescheduled.GetAcceptDue()), timeconv.FromProto(b.Rescheduled.GetResolveDue())
	case *whistlev1.Event_ExtensionDecided:
		sv.ExtensionDecided = true
		if b.ExtensionDecided.GetGranted() {
			sv.Rescheduled, sv.ResolveDue = true, timeconv.FromProto(b.ExtensionDecided.GetResolveDue())
		}
	}
	return s.Supervise(ctx, sv)
}

// toEvent announces what a department just did.
func toEvent(it Item, a Announcement) *whistlev1.Event {
	meta := events.Meta{
		TicketID: it.TicketID, TicketNumber: it.Number, Version: it.Version, OccurredAt: it.UpdatedAt,
		Producer: Name, Synthetic: it.Synthetic,
		Actor: &whistlev1.Actor{Id: it.Actor.ID, OrgUnitId: it.Actor.OrgUnitID, DisplayName: it.Actor.Name},
	}
	dept := it.DepartmentID
	if a.Department != "" {
		dept = a.Department
	}
	var body proto.Message
	switch a.Kind {
	case events.Accepted:
		body = &whistlev1.TicketAccepted{DepartmentId: dept}
	case events.Resolved:
		body = &whistlev1.TicketResolved{DepartmentId: dept, Result: it.Result, Evidence: toProtoAttachments(a.Attachments),
			MissingAssistsReason: a.MissingAssists}
	case events.Returned:
		body = &whistlev1.TicketReturned{DepartmentId: dept, ReasonCode: whistlev1.ReturnReason(a.ReturnReason), Note: a.Note}
	case events.Progressed:
		body = &whistlev1.TicketProgressed{DepartmentId: dept, Note: a.Note, Clock: whistlev1.ClockChange(a.Clock),
			Attachments: toProtoAttachments(a.Attachments), AssistDone: a.AssistDone}
	case events.ExtensionRequested:
		body = &whistlev1.TicketExtensionRequested{DepartmentId: dept,
			RequestedResolveDue: timeconv.ToProto(a.RequestedDue), Reason: a.Note}
	default:
		panic("response announces no " + a.Kind + " events")
	}
	return events.MustNew(meta, body)
}

func toProtoAttachments(as []Attachment) []*whistlev1.Attachment {
	var out []*whistlev1.Attachment
	for _, a := range as {
		out = append(out, &whistlev1.Attachment{Name: a.Name, SizeBytes: a.Size, Sha256: a.SHA256, Url: a.URL})
	}
	return out
}

func fromProtoAttachments(as []*whistlev1.Attachment) []Attachment {
	var out []Attachment
	for _, a := range as {
		out = append(out, Attachment{Name: a.GetName(), Size: a.GetSizeBytes(), SHA256: a.GetSha256(), URL: a.GetUrl()})
	}
	return out
}
