package main

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
)

// badCase is one request with one bad field, otherwise valid, made by a
// caller who may make it: it must get InvalidArgument with a message, and
// change nothing.
type badCase struct {
	name   string
	method string // full method, for IsMutating
	role   auth.Role
	unit   string
	about  string // the fixture ticket that must not change; "" for none
	call   func(ctx context.Context, w *world) (proto.Message, error)
	// control: a valid request, which must be let through (so that the bad
	// ones are refused for their bad field, not for being of their kind).
	control bool
}

// Bounds the corpus plays with.
var (
	year10000 = &timestamppb.Timestamp{Seconds: 253402300800} // 10000-01-01, past Timestamp's range
	year1     = &timestamppb.Timestamp{Seconds: -62135596800} // 0001-01-01
	year9999  = timestamppb.New(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC))
)

func attachment(mod func(*whistlev1.Attachment)) *whistlev1.Attachment {
	a := &whistlev1.Attachment{Name: "photo.jpg", SizeBytes: 48_213, Sha256: strings.Repeat("ab", 32),
		Url: "https://files.example.gov/whistle/photo.jpg"}
	if mod != nil {
		mod(a)
	}
	return a
}

func attachments(n int) []*whistlev1.Attachment {
	out := make([]*whistlev1.Attachment, n)
	for i := range out {
		out[i] = attachment(nil)
	}
	return out
}

// progressCase is AddProgress on the accepted ticket by its department, with mod applied.
func progressCase(name string, mod func(*whistlev1.AddProgressRequest)) badCase {
	return badCase{name: "ResponseService.AddProgress " + name, method: svc("ResponseService.AddProgress"),
		role: auth.RoleDepartmentHandler, unit: "xc-water", about: "accepted",
		call: func(ctx context.Context, w *world) (proto.Message, error) {
			t := w.fx.t("accepted")
			req := &whistlev1.AddProgressRequest{TicketId: t.id, Note: "checked the pipe",
				Actor: &whistlev1.Actor{Id: "adv-input", OrgUnitId: t.lead}}
			mod(req)
			return w.c.Response.AddProgress(ctx, req)
		}}
}

// reportCase is a report from grid A by its reporter, with mod applied.
func reportCase(name string, mod func(*whistlev1.ReportRequest)) badCase {
	return badCase{name: "IntakeService.Report " + name, method: svc("IntakeService.Report"), role: auth.RoleReporter, unit: gridA,
		about: "reports", call: func(ctx context.Context, w *world) (proto.Message, error) {
			req := &whistlev1.ReportRequest{IdempotencyKey: w.key(), Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY,
				Source: whistlev1.Source_SOURCE_RESIDENT, Category: "noise", Description: "music after midnight",
				Location: &whistlev1.Location{GridId: gridA}, Reporter: &whistlev1.Reporter{OrgUnitId: gridA, Name: "李四", Phone: "13900001111"},
				Synthetic: true}
			mod(req)
			return w.c.Intake.Report(ctx, req)
		}}
}

// listCase is ListTickets by grid A's reporter, with mod applied.
func listCase(name string, mod func(*whistlev1.ListTicketsRequest)) badCase {
	return badCase{name: "IntakeService.ListTickets " + name, method: svc("IntakeService.ListTickets"), role: auth.RoleReporter, unit: gridA,
		call: func(ctx context.Context, w *world) (proto.Message, error) {
			req := &whistlev1.ListTicketsRequest{}
			mod(req)
			return w.c.Intake.ListTickets(ctx, req)
		}}
}

// evaluateCase is the reporting community's verdict on "bad-verdict", with mod applied.
func evaluateCase(name string, mod func(*whistlev1.EvaluateRequest)) badCase {
	return badCase{name: "EvaluationService.Evaluate " + name, method: svc("EvaluationService.Evaluate"),
		role: auth.RoleCommunityOfficer, unit: communityA, about: "bad-verdict",
		call: func(ctx context.Context, w *world) (proto.Message, error) {
			req := &whistlev1.EvaluateRequest{TicketId: w.fx.t("bad-verdict").id, Verdict: whistlev1.Verdict_VERDICT_UNSATISFIED,
				Source: whistlev1.EvaluationSource_EVALUATION_SOURCE_COMMUNITY, ReasonCodes: []string{"not_fixed"},
				Evaluator: &whistlev1.Actor{Id: "adv-input", OrgUnitId: communityA}}
			mod(req)
			return w.c.Evaluation.Evaluate(ctx, req)
		}}
}

// dispatchCase is street A's officer dispatching the triage ticket by hand, with mod applied.
func dispatchCase(name string, mod func(*whistlev1.DispatchRequest)) badCase {
	return badCase{name: "DispatchService.Dispatch " + name, method: svc("DispatchService.Dispatch"), role: auth.RoleStreetOfficer,
		unit: streetA, about: "triage", call: func(ctx context.Context, w *world) (proto.Message, error) {
			req := &whistlev1.DispatchRequest{TicketId: w.fx.t("triage").id, LeadDepartmentId: "xc-urban",
				AcceptWithin: durationpb.New(time.Hour), ResolveWithin: durationpb.New(24 * time.Hour), Note: "by hand",
				Actor: &whistlev1.Actor{Id: "adv-input", OrgUnitId: streetA}}
			mod(req)
			return w.c.Dispatch.Dispatch(ctx, req)
		}}
}

// extensionCase is an accepted ticket's department asking for more time,
// with mod applied. A server that takes one such request refuses the next
// as pending, so the bad deadlines each aim at a ticket of their own.
func extensionCase(name, about string, mod func(*whistlev1.RequestExtensionRequest)) badCase {
	return badCase{name: "ResponseService.RequestExtension " + name, method: svc("ResponseService.RequestExtension"),
		role: auth.RoleDepartmentHandler, unit: "xc-water", about: about,
		call: func(ctx context.Context, w *world) (proto.Message, error) {
			t := w.fx.t(about)
			req := &whistlev1.RequestExtensionRequest{TicketId: t.id, Reason: "parts on order",
				RequestedResolveDue: ts(time.Now().Add(15 * 24 * time.Hour)), Actor: &whistlev1.Actor{Id: "adv-input", OrgUnitId: t.lead}}
			mod(req)
			return w.c.Response.RequestExtension(ctx, req)
		}}
}

// decideCase is street A's officer deciding a pending extension, with mod
// applied; each bad deadline aims at a ticket of its own.
func decideCase(name, about string, mod func(*whistlev1.DecideExtensionRequest)) badCase {
	return badCase{name: "DispatchService.DecideExtension " + name, method: svc("DispatchService.DecideExtension"),
		role: auth.RoleStreetOfficer, unit: streetA, about: about,
		call: func(ctx context.Context, w *world) (proto.Message, error) {
			req := &whistlev1.DecideExtensionRequest{TicketId: w.fx.t(about).id, Granted: true,
				ResolveDue: ts(time.Now().Add(12 * 24 * time.Hour)), Note: "granted", Actor: &whistlev1.Actor{Id: "adv-input", OrgUnitId: streetA}}
			mod(req)
			return w.c.Dispatch.DecideExtension(ctx, req)
		}}
}

// read is a read-only bad request by role at unit.
func read(name, method string, role auth.Role, unit string, call func(ctx context.Context, w *world) (proto.Message, error)) badCase {
	return badCase{name: name, method: svc(method), role: role, unit: unit, call: call}
}

// runBadInput plays check 5: each bad request, then whether monitoring still
// shows the tickets they aimed at as before, then the controls.
func (w *world) runBadInput(ctx context.Context, rep *report) {
	aimed := []string{"accepted", "accepted-2", "accepted-3", "triage", "extension", "extension-2", "bad-verdict"}
	before := w.timelines(ctx, aimed)
	var controls []badCase
	for _, bc := range badCases() {
		if bc.control {
			controls = append(controls, bc)
			continue
		}
		w.badRow(ctx, rep, bc)
	}
	w.checkTimelines(ctx, rep, gInput, "the bad requests", before)
	for _, bc := range controls {
		cctx, cancel := context.WithTimeout(w.as(ctx, "input", bc.role, bc.unit), callTimeout)
		o := observe(bc.call(cctx, w))
		cancel()
		rep.check(gInput, "control: "+bc.name, o.code == codes.OK, "OK (a valid request)", o.String())
	}
}

func (w *world) badRow(ctx context.Context, rep *report, bc badCase) {
	var before snapshot
	mutating := grpcserver.IsMutating(bc.method)
	if mutating {
		before = w.takeAbout(ctx, bc.about, bc.method)
	}
	cctx, cancel := context.WithTimeout(w.as(ctx, "input", bc.role, bc.unit), callTimeout)
	o := observe(bc.call(cctx, w))
	cancel()
	ok, expected, observed := invalid().ok(o), "InvalidArgument with a message", o.String()
	if mutating {
		expected += ", nothing changed"
		if d := before.diff(w.takeAbout(ctx, bc.about, bc.method)); d != "" {
			ok, observed = false, observed+"; changed: "+d
		}
	}
	rep.check(gInput, bc.name, ok, expected, observed)
}

// timelines reads how monitoring shows the named fixture tickets.
func (w *world) timelines(ctx context.Context, names []string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		out[n] = w.timelineOf(ctx, w.fx.t(n))
	}
	return out
}

// checkTimelines checks that monitoring shows the tickets as before (what
// refused calls changed would have reached it by now).
func (w *world) checkTimelines(ctx context.Context, rep *report, group, what string, before map[string]string) {
	names := make([]string, 0, len(before))
	for n := range before {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		was := before[n]
		now := w.timelineOf(ctx, w.fx.t(n))
		rep.check(group, fmt.Sprintf("%s left %s (%s) as monitoring showed it", what, w.fx.t(n).number, n), now == was,
			"timeline "+was, "timeline "+now)
	}
}

func (w *world) takeAbout(ctx context.Context, about, method string) snapshot {
	if about == "" || about == "reports" {
		return w.take(ctx, nil, method)
	}
	return w.take(ctx, w.fx.t(about), method)
}

// big is a string of n bytes.
func big(n int) string { return strings.Repeat("a", n) }

// many is n copies of s.
func many(n int, s string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

var nan = math.NaN()
