package main

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// runPersonal plays check 4: the reporter's name and phone are shown in full
// to the reporter's own area roles only, and a department that returned a
// ticket no longer sees what happened to it afterwards.
func (w *world) runPersonal(ctx context.Context, rep *report) {
	acc := w.fx.t("accepted")
	for _, p := range []struct {
		role auth.Role
		unit string
	}{{auth.RoleReporter, gridA}, {auth.RoleCommunityOfficer, communityA}, {auth.RoleStreetOfficer, streetA}, {auth.RoleSystem, city}} {
		resp, err := w.c.Intake.GetTicket(w.as(ctx, "personal", p.role, p.unit), &whistlev1.GetTicketRequest{Ticket: acc.id})
		got := resp.GetTicket().GetReporter()
		rep.check(gPersonal, fmt.Sprintf("IntakeService.GetTicket %s@%s sees the reporter in full", p.role, p.unit),
			err == nil && got.GetName() == reporterName && got.GetPhone() == reporterPhone,
			fmt.Sprintf("OK with %s %s", reporterName, reporterPhone), fmt.Sprintf("%v: %q %q", observe(resp, err), got.GetName(), got.GetPhone()))
	}
	for _, v := range w.maskedViews(acc) {
		o := observe(v.call(w.as(ctx, "personal", v.role, v.unit)))
		full := showsFull(o.resp, reporterName, reporterPhone)
		rep.check(gPersonal, fmt.Sprintf("%s %s@%s sees the reporter masked", v.name, v.role, v.unit), o.code == codes.OK && len(full) == 0,
			"OK, name and phone masked (e.g. 王**, 138****5678)", o.String()+shown(full))
	}
	w.watchMasked(ctx, rep)
	w.returnedHistory(ctx, rep)
}

func shown(full []string) string {
	if len(full) == 0 {
		return ""
	}
	return "; in full: " + strings.Join(full, ", ")
}

// view is a call that must show the reporter masked.
type view struct {
	name string
	role auth.Role
	unit string
	call func(ctx context.Context) (proto.Message, error)
}

func (w *world) maskedViews(acc *ticket) []view {
	timeline := func(ctx context.Context) (proto.Message, error) {
		return w.c.Monitoring.GetTimeline(ctx, &whistlev1.GetTimelineRequest{TicketId: acc.id})
	}
	getTicket := func(ctx context.Context) (proto.Message, error) {
		return w.c.Intake.GetTicket(ctx, &whistlev1.GetTicketRequest{Ticket: acc.id})
	}
	return []view{
		{"IntakeService.GetTicket", auth.RoleMonitor, city, getTicket},
		{"IntakeService.GetTicket", auth.RoleAdmin, city, getTicket},
		{"MonitoringService.GetTimeline", auth.RoleDepartmentHandler, acc.lead, timeline},
		{"MonitoringService.GetTimeline", auth.RoleDepartmentLead, acc.lead, timeline},
		{"MonitoringService.GetTimeline", auth.RoleMonitor, city, timeline},
		{"ResponseService.ListInbox", auth.RoleDepartmentHandler, acc.lead, func(ctx context.Context) (proto.Message, error) {
			return w.c.Response.ListInbox(ctx, &whistlev1.ListInboxRequest{DepartmentId: acc.lead, PageSize: 500})
		}},
		{"ResponseService.GetInboxItem", auth.RoleDepartmentHandler, acc.lead, func(ctx context.Context) (proto.Message, error) {
			return w.c.Response.GetInboxItem(ctx, &whistlev1.GetInboxItemRequest{TicketId: acc.id})
		}},
	}
}

// watchMasked watches WatchEvents as a monitor while a resident reports a
// ticket with a name and phone: the reported event must show them masked.
func (w *world) watchMasked(ctx context.Context, rep *report) {
	var (
		mu       sync.Mutex
		reported string
	)
	trigger := func(ctx context.Context) error {
		resp, err := w.c.Intake.Report(w.as(ctx, "personal", auth.RoleReporter, gridA), &whistlev1.ReportRequest{
			IdempotencyKey: w.key(), Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY, Source: whistlev1.Source_SOURCE_RESIDENT,
			Category: "noise", Description: "watched report", Location: &whistlev1.Location{GridId: gridA},
			Reporter: &whistlev1.Reporter{OrgUnitId: gridA, Name: reporterName, Phone: reporterPhone}})
		mu.Lock()
		reported = resp.GetTicket().GetId()
		mu.Unlock()
		return err
	}
	isReported := func(m proto.Message) bool {
		e, ok := m.(*whistlev1.WatchEventsResponse)
		mu.Lock()
		defer mu.Unlock()
		return ok && reported != "" && e.GetTicketId() == reported && e.GetEntry().GetEventType() == "reported"
	}
	watch := func(role auth.Role) opener {
		return func(ctx context.Context) (receiver, error) {
			return w.c.Monitoring.WatchEvents(w.as(ctx, "personal", role, city), &whistlev1.WatchEventsRequest{})
		}
	}
	w.watchWhile(ctx, rep, gPersonal, "MonitoringService.WatchEvents monitor@hh sees a new report's reporter masked",
		watch(auth.RoleMonitor), watch(auth.RoleAdmin), isReported, trigger, func(m proto.Message) []string {
			return showsFull(m, reporterName, reporterPhone)
		})
}

// returnedHistory: the department that returned a ticket sees nothing of
// what happened after its return.
func (w *world) returnedHistory(ctx context.Context, rep *report) {
	t := w.fx.t("returned")
	as := w.as(ctx, "personal", auth.RoleDepartmentHandler, t.returnedBy)
	who := fmt.Sprintf("department_handler@%s (returned %s)", t.returnedBy, t.number)
	tl, err := w.c.Monitoring.GetTimeline(as, &whistlev1.GetTimelineRequest{TicketId: t.id})
	o := observe(tl, err)
	var later []string
	if err == nil {
		seenReturn := false
		for _, e := range tl.GetEntries() {
			if seenReturn {
				later = append(later, e.GetEventType())
			}
			seenReturn = seenReturn || e.GetEventType() == "returned"
		}
		if !seenReturn {
			later = append(later, "(no returned entry at all)")
		}
	}
	rep.check(gPersonal, "MonitoringService.GetTimeline "+who, o.code == codes.NotFound || (o.code == codes.OK && len(later) == 0),
		"NotFound, or no entry after its return", fmt.Sprintf("%s; entries after the return: %v", o, later))
	a, err := w.c.Dispatch.GetAssignment(as, &whistlev1.GetAssignmentRequest{TicketId: t.id})
	rep.check(gPersonal, "DispatchService.GetAssignment "+who, observe(a, err).code == codes.NotFound, "NotFound",
		observe(a, err).String()+leadOf(a.GetAssignment().GetLeadDepartmentId()))
	item, err := w.c.Response.GetInboxItem(as, &whistlev1.GetInboxItemRequest{TicketId: t.id})
	rep.check(gPersonal, "ResponseService.GetInboxItem "+who, observe(item, err).code == codes.NotFound, "NotFound",
		observe(item, err).String()+leadOf(item.GetItem().GetDepartmentId()))
}

func leadOf(dept string) string {
	if dept == "" {
		return ""
	}
	return " (shows the ticket now with " + dept + ")"
}
