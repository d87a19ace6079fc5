package dispatch

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/telemetry"
	"github.com/whistle-civic/whistle/pkg/ticket"
	"github.com/whistle-civic/whistle/pkg/timeconv"
)

// The moves other services make that dispatch follows, and the notes it heeds.
var (
	followed  = []string{events.Accepted, events.Returned, events.Resolved, events.Reopened, events.Closed, events.Merged, events.Cancelled}
	annotated = []string{events.Progressed, events.ExtensionRequested}
)

// consumer is dispatch's one consumer: reported tickets, what other
// services do to them, and their notes. It took over the work of
// dispatch-follow and dispatch-notes (migration 00004 carries their inbox
// over). Each event type has a stepper; a batch is applied set-based
// (applySet), one event at a time when it cannot be.
func (s *Service) consumer() platform.Consumer {
	steppers := map[string]stepper{events.Reported: s.reportedStep}
	for _, t := range followed {
		steppers[t] = s.followedStep
	}
	for _, t := range annotated {
		steppers[t] = s.annotatedStep
	}
	routes := platform.Routes{}
	for t, f := range steppers {
		routes[t] = s.applyOne(f)
	}
	types, apply := platform.Route(routes)
	return platform.Consumer{Name: Name, EventTypes: types, Apply: apply, ApplySet: s.applySet(steppers),
		Replaces: []string{Name + "-follow", Name + "-notes"}}
}

// reportedStep routes a newly reported ticket.
func (s *Service) reportedStep(ctx context.Context, ev *whistlev1.Event) (step, error) {
	t := ev.GetReported().GetTicket()
	snapshot, err := proto.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encode ticket snapshot: %w", err)
	}
	return s.routeReported(Reported{
		TicketID: ev.GetTicketId(), Number: ev.GetTicketNumber(), Version: ev.GetTicketVersion(),
		Facts:     Facts{Category: t.GetCategory(), GridID: t.GetLocation().GetGridId(), Kind: int32(t.GetKind())},
		Synthetic: ev.GetSynthetic(), TraceParent: telemetry.TraceParent(ctx), Snapshot: snapshot,
	}), nil
}

// followedStep records a move made elsewhere.
func (s *Service) followedStep(_ context.Context, ev *whistlev1.Event) (step, error) {
	action, _ := events.ActionOf(events.TypeOf(ev))
	tr := Transition{TicketID: ev.GetTicketId(), Version: ev.GetTicketVersion(), Action: action}
	switch b := ev.GetBody().(type) {
	case *whistlev1.Event_Accepted:
		tr.Department = b.Accepted.GetDepartmentId()
	case *whistlev1.Event_Returned:
		tr.Department = b.Returned.GetDepartmentId()
		tr.Note = shortReason(b.Returned.GetReasonCode()) + ": " + b.Returned.GetNote()
	case *whistlev1.Event_Reopened:
		tr.Escalate = b.Reopened.GetEscalate()
	}
	return s.followStep(tr), nil
}

// annotatedStep heeds progress notes that move the clock, and requests for
// more time; other notes need no step.
func (s *Service) annotatedStep(_ context.Context, ev *whistlev1.Event) (step, error) {
	switch b := ev.GetBody().(type) {
	case *whistlev1.Event_Progressed:
		c := b.Progressed.GetClock()
		if c == whistlev1.ClockChange_CLOCK_CHANGE_UNSPECIFIED {
			return nil, nil
		}
		return s.progressStep(Progress{TicketID: ev.GetTicketId(), Version: ev.GetTicketVersion(), Note: b.Progressed.GetNote(),
			Pause: c == whistlev1.ClockChange_CLOCK_CHANGE_PAUSE, Resume: c == whistlev1.ClockChange_CLOCK_CHANGE_RESUME}), nil
	case *whistlev1.Event_ExtensionRequested:
		return s.extensionRequestStep(ev.GetTicketVersion(), timeconv.FromProto(b.ExtensionRequested.GetRequestedResolveDue()),
			b.ExtensionRequested.GetReason()), nil
	}
	return nil, nil
}

func shortReason(r whistlev1.ReturnReason) string {
	return map[whistlev1.ReturnReason]string{
		whistlev1.ReturnReason_RETURN_REASON_NOT_OUR_JURISDICTION:     "not our jurisdiction",
		whistlev1.ReturnReason_RETURN_REASON_UNCLEAR_OWNERSHIP:        "unclear ownership",
		whistlev1.ReturnReason_RETURN_REASON_OVERLAPPING_DUTIES:       "overlapping duties",
		whistlev1.ReturnReason_RETURN_REASON_INSUFFICIENT_INFORMATION: "insufficient information",
	}[r]
}

// toEvents turns announcements about a into events.
func toEvents(a Assignment, anns []Announcement) []*whistlev1.Event {
	out := make([]*whistlev1.Event, 0, len(anns))
	for _, an := range anns {
		out = append(out, toEvent(a, an))
	}
	return out
}

func toEvent(a Assignment, an Announcement) *whistlev1.Event {
	actor := &whistlev1.Actor{Id: "service:" + Name}
	if an.Actor.ID != "" {
		actor = &whistlev1.Actor{Id: an.Actor.ID, OrgUnitId: an.Actor.OrgUnitID, DisplayName: an.Actor.Name}
	}
	meta := events.Meta{TicketID: a.TicketID, TicketNumber: a.Number, Version: a.Version, OccurredAt: a.UpdatedAt,
		Producer: Name, Actor: actor, Synthetic: a.Synthetic}
	var body proto.Message
	switch an.Kind {
	case annDispatched:
		body = &whistlev1.TicketDispatched{LeadDepartmentId: a.Lead, AssistingDepartmentIds: a.Assisting,
			AcceptDue: timestamppb.New(a.AcceptDue), ResolveDue: timestamppb.New(a.ResolveDue),
			CatalogVersion: a.CatalogVersion, Rule: a.Rule, Ticket: snapshot(a), EscalationLevel: a.EscalationLevel,
			ByHand: an.ByHand, AreaIds: a.Area}
	case annTriaged:
		body = &whistlev1.TicketTriaged{OrgUnitId: a.TriageOrgUnit, Reason: an.Note, CatalogVersion: a.CatalogVersion,
			Ticket: snapshot(a), Arbitration: a.Arbitration, OwnerDepartmentId: a.Owner, AreaIds: a.Area}
	case annArbitrated:
		body = &whistlev1.TicketArbitrated{DepartmentId: a.Lead, DecidedByOrgUnitId: an.DecidedBy, Note: an.Note,
			AcceptDue: timestamppb.New(a.AcceptDue), ResolveDue: timestamppb.New(a.ResolveDue)}
	case annCancelled:
		body = &whistlev1.TicketCancelled{Reason: an.Note, Withdrawn: an.Withdrawn}
	case annMerged:
		body = &whistlev1.TicketMerged{OriginalTicketId: an.Original, OriginalTicketNumber: an.OriginalNumber, Note: an.Note,
			AcrossMatters: an.AcrossMatters}
	case annEscalated:
		body = &whistlev1.TicketEscalated{Level: an.Level, Stage: an.Stage, NotifiedOrgUnitId: an.Notified,
			DueAt: timestamppb.New(an.DueAt)}
	case annRescheduled:
		r := &whistlev1.TicketRescheduled{Paused: !a.PausedAt.IsZero(), Reason: an.Note}
		if a.Status == ticket.Dispatched {
			r.AcceptDue = timeconv.ToProto(a.AcceptDue)
		}
		if a.PausedAt.IsZero() {
			r.ResolveDue = timeconv.ToProto(a.ResolveDue)
		}
		body = r
	case annExtensionDecided:
		body = &whistlev1.TicketExtensionDecided{Granted: an.Granted, ResolveDue: timeconv.ToProto(a.ResolveDue),
			Note: an.Note, DecidedByOrgUnitId: an.DecidedBy}
	default:
		panic("dispatch announces no " + an.Kind + " events")
	}
	return events.MustNew(meta, body)
}

func snapshot(a Assignment) *whistlev1.Ticket {
	t := &whistlev1.Ticket{}
	_ = proto.Unmarshal(a.Snapshot, t) // written by applyReported from a decoded event
	return t
}

// toOrgTreeEvent announces a catalog's org tree: its areas, then its
// departments under the city or district they belong to.
func toOrgTreeEvent(cat *Catalog, at time.Time) *whistlev1.Event {
	tree := &whistlev1.OrgTree{CatalogVersion: cat.Version}
	for _, u := range cat.Units() {
		tree.Units = append(tree.Units, &whistlev1.OrgNode{Id: u.ID, ParentId: u.ParentID, Level: u.Level.String(), Centre: toProtoPoint(u.Centre)})
	}
	for _, d := range cat.Departments() {
		tree.Units = append(tree.Units, &whistlev1.OrgNode{Id: d.ID, ParentId: d.OrgUnitID, Level: "department"})
	}
	return events.MustNew(events.Meta{OccurredAt: at, Producer: Name,
		Actor: &whistlev1.Actor{Id: "service:" + Name, OrgUnitId: cat.city()}}, tree)
}
