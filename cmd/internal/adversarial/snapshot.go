package main

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// snapshot is what a refused call must leave as it was, read right before
// and right after it: the newest audit rows of every service and, for a
// call about a ticket, the ticket's audit rows and the ticket as the
// service called holds it (dispatch's assignment, the lead's inbox item,
// the evaluation round; intake's newest reports). These are written in the
// call's own transaction. Monitoring's timeline follows later, through
// events, so it is compared once a whole check is done (timelineOf).
type snapshot struct {
	parts map[string]string
	order []string
}

func (s *snapshot) set(name, value string) {
	if s.parts == nil {
		s.parts = map[string]string{}
	}
	s.parts[name] = value
	s.order = append(s.order, name)
}

// diff says what changed from s to after; "" when nothing did.
func (s snapshot) diff(after snapshot) string {
	var changes []string
	for _, name := range s.order {
		if s.parts[name] != after.parts[name] {
			changes = append(changes, fmt.Sprintf("%s %s → %s", name, s.parts[name], after.parts[name]))
		}
	}
	return strings.Join(changes, "; ")
}

// take reads the snapshot for a call of method about t (nil: no ticket).
func (w *world) take(ctx context.Context, t *ticket, method string) snapshot {
	var s snapshot
	ctx = w.admin(ctx)
	audit, err := w.c.Audit.ListAudit(ctx, &whistlev1.ListAuditRequest{PageSize: 20})
	s.set("audit", render(err, func() string {
		var ids []string
		for _, e := range audit.GetEntries() {
			ids = append(ids, fmt.Sprintf("%s#%d", e.GetService(), e.GetId()))
		}
		return fmt.Sprintf("newest [%s]", strings.Join(ids, " "))
	}))
	service := strings.TrimSuffix(strings.Split(strings.TrimPrefix(method, "/whistle.v1."), "/")[0], "Service")
	if service == "Intake" {
		list, err := w.c.Intake.ListTickets(ctx, &whistlev1.ListTicketsRequest{PageSize: 20, IncludeSynthetic: true})
		s.set("tickets", render(err, func() string {
			var ids []string
			for _, t := range list.GetTickets() {
				if t.GetSource() != whistlev1.Source_SOURCE_PROACTIVE { // raised by monitoring's hot spots meanwhile
					ids = append(ids, t.GetNumber())
				}
			}
			return "newest [" + strings.Join(ids, " ") + "]"
		}))
	}
	if t != nil {
		audit, err := w.c.Audit.ListAudit(ctx, &whistlev1.ListAuditRequest{TicketId: t.id, PageSize: 500})
		s.set("ticket audit", render(err, func() string { return fmt.Sprintf("%d rows", len(audit.GetEntries())) }))
		w.takeHeld(ctx, t, service, &s)
	}
	return s
}

// takeHeld reads the ticket as service holds it.
func (w *world) takeHeld(ctx context.Context, t *ticket, service string, s *snapshot) {
	switch service {
	case "Dispatch":
		a, err := w.c.Dispatch.GetAssignment(ctx, &whistlev1.GetAssignmentRequest{TicketId: t.id})
		s.set("assignment", render(err, func() string {
			x := a.GetAssignment()
			return fmt.Sprintf("%s v%d lead %s returns %d binding %v resolve due %s extension %s triage %s", short(x.GetStatus().String()),
				x.GetVersion(), x.GetLeadDepartmentId(), x.GetReturnCount(), x.GetBinding(), stamp(x.GetResolveDue()),
				stamp(x.GetExtensionRequestedDue()), x.GetTriageOrgUnitId())
		}))
	case "Response":
		if t.lead == "" {
			return
		}
		item, err := w.c.Response.GetInboxItem(w.as(context.Background(), "observer", auth.RoleDepartmentHandler, t.lead),
			&whistlev1.GetInboxItemRequest{TicketId: t.id})
		s.set("inbox", render(err, func() string {
			x := item.GetItem()
			return fmt.Sprintf("%s v%d changed %s paused %v extension %s", short(x.GetStatus().String()), x.GetVersion(),
				stamp(x.GetUpdatedAt()), x.GetPaused(), stamp(x.GetExtensionRequestedDue()))
		}))
	case "Evaluation":
		e, err := w.c.Evaluation.GetEvaluation(ctx, &whistlev1.GetEvaluationRequest{TicketId: t.id})
		s.set("evaluation", render(err, func() string {
			x := e.GetEvaluation()
			return fmt.Sprintf("round %d %s verdict %s", x.GetRound(), short(x.GetState().String()), short(x.GetVerdict().String()))
		}))
	}
}

// timelineOf is the ticket as monitoring shows it: status, version, entries.
func (w *world) timelineOf(ctx context.Context, t *ticket) string {
	tl, err := w.c.Monitoring.GetTimeline(w.admin(ctx), &whistlev1.GetTimelineRequest{TicketId: t.id})
	return render(err, func() string {
		return fmt.Sprintf("%s v%d, %d entries", short(tl.GetState().GetStatus().String()), tl.GetState().GetVersion(), len(tl.GetEntries()))
	})
}

func stamp(t *timestamppb.Timestamp) string {
	if t == nil {
		return "-"
	}
	return t.AsTime().UTC().Format("2006-01-02T15:04:05.000000")
}

func render(err error, ok func() string) string {
	if err != nil {
		return "(" + status.Code(err).String() + ")"
	}
	return ok()
}

// short drops an enum value's prefix: TICKET_STATUS_RESOLVED → RESOLVED.
func short(enum string) string {
	for _, p := range []string{"TICKET_STATUS_", "EVALUATION_STATE_", "VERDICT_"} {
		enum = strings.TrimPrefix(enum, p)
	}
	return enum
}
