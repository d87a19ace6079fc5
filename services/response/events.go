package response

import (
	"context"

	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/telemetry"
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
// carries their inbox over). Each event type has a stepper; a batch is
// applied set-based (applySet), one event at a time when it cannot be.
func (s *Service) consumer() platform.Consumer {
	steppers := map[string]stepper{events.Dispatched: s.dispatchedStep, events.Arbitrated: s.dispatchedStep,
		events.Reopened: s.reopenedStep}
	for _, t := range finishing {
		steppers[t] = s.finishedStep
	}
	for _, t := range supervising {
		steppers[t] = s.supervisionStep
	}
	routes := platform.Routes{}
	for t, f := range steppers {
		routes[t] = s.applyOne(f)
	}
	types, apply := platform.Route(routes)
	return platform.Consumer{Name: Name, EventTypes: types, Apply: apply, ApplySet: s.applySet(steppers),
		Replaces: []string{Name + "-rework", Name + "-finish", Name + "-supervision"}}
}

func (s *Service) dispatchedStep(ctx context.Context, ev *whistlev1.Event) (step, error) {
	if a := ev.GetArbitrated(); a != nil {
		return s.receiveStep(Assigned{TicketID: ev.GetTicketId(), Number: ev.GetTicketNumber(), Version: ev.GetTicketVersion(),
			DepartmentID: a.GetDepartmentId(), AcceptDue: timeconv.FromProto(a.GetAcceptDue()),
			ResolveDue: timeconv.FromProto(a.GetResolveDue()), Binding: true}), nil
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
		return nil, err
	}
	return s.receiveStep(Assigned{
		TicketID: ev.GetTicketId(), Number: ev.GetTicketNumber(), Version: ev.GetTicketVersion(),
		DepartmentID: d.GetLeadDepartmentId(), Category: d.GetTicket().GetCategory(), Title: d.GetTicket().GetTitle(),
		Synthetic: ev.GetSynthetic(), AcceptDue: timeconv.FromProto(d.GetAcceptDue()),
		ResolveDue: timeconv.FromProto(d.GetResolveDue()), EscalationLevel: d.GetEscalationLevel(),
		TraceParent: telemetry.TraceParent(ctx), Snapshot: snapshot, Assisting: d.GetAssistingDepartmentIds(),
		Area: d.GetAreaIds(),
	}), nil
}

func (s *Service) reopenedStep(_ context.Context, ev *whistlev1.Event) (step, error) {
	r := ev.GetReopened()
	return s.reworkStep(Reopening{TicketID: ev.GetTicketId(), Version: ev.GetTicketVersion(),
		Reasons: r.GetReasonCodes(), Comment: r.GetComment(), ReworkCount: r.GetReworkCount()}), nil
}

func (s *Service) finishedStep(_ context.Context, ev *whistlev1.Event) (step, error) {
	action, _ := events.ActionOf(events.TypeOf(ev))
	return s.finishStep(ev.GetTicketVersion(), action), nil
}

func (s *Service) supervisionStep(_ context.Context, ev *whistlev1.Event) (step, error) {
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
	return s.superviseStep(sv), nil
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
	case events.Merged:
		body = &whistlev1.TicketMerged{OriginalTicketId: a.Original, OriginalTicketNumber: a.OriginalNumber, Note: a.Note,
			AcrossMatters: a.AcrossMatters}
	case events.Cancelled:
		body = &whistlev1.TicketCancelled{Reason: a.Note, Withdrawn: a.Withdrawn}
	default:
		panic("response announces no " + a.Kind + " events")
	}
	return events.MustNew(meta, body)
}

func toProtoAttachments(as []Attachment) []*whistlev1.Attachment {
	var out []*whistlev1.Attachment
	for _, a := range as {
		out = append(out, &whistlev1.Attachment{Name: a.Name, SizeBytes: a.Size, Sha256: a.SHA256, Url: a.URL, MediaId: a.MediaID})
	}
	return out
}

func fromProtoAttachments(as []*whistlev1.Attachment) []Attachment {
	var out []Attachment
	for _, a := range as {
		out = append(out, Attachment{Name: a.GetName(), Size: a.GetSizeBytes(), SHA256: a.GetSha256(), URL: a.GetUrl(), MediaID: a.GetMediaId()})
	}
	return out
}
