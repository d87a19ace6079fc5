package main

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// verdictTickets are resolved tickets of community A, one per verdict that
// a broken server might take (so that one forged verdict does not spoil the
// next check), plus shared ones for verdicts that change nothing either way.
var verdictTickets = []string{"v-hotline-anon", "v-community-anon", "v-community-anon-code", "v-unspecified-anon", "v-no-evaluator",
	"v-community-hotline", "v-refused", "v-resident", "v-system-hotline", "v-community", "v-department"}

// verdict is one EvaluateRequest and who sends it.
type verdict struct {
	name   string
	ticket string
	role   auth.Role // "" sends no token
	unit   string
	source whistlev1.EvaluationSource
	by     string // the evaluator's org unit
	code   string // "right" for the ticket's own code, else the code sent
	want   []codes.Code
}

const rightCode = "right"

func (w *world) verdicts() []verdict {
	const (
		hotline   = whistlev1.EvaluationSource_EVALUATION_SOURCE_HOTLINE_FOLLOW_UP
		community = whistlev1.EvaluationSource_EVALUATION_SOURCE_COMMUNITY
		resident  = whistlev1.EvaluationSource_EVALUATION_SOURCE_RESIDENT
		none      = whistlev1.EvaluationSource_EVALUATION_SOURCE_UNSPECIFIED
		deflt     = whistlev1.EvaluationSource_EVALUATION_SOURCE_DEFAULT
	)
	refused := []codes.Code{codes.Unauthenticated, codes.PermissionDenied}
	pd := []codes.Code{codes.PermissionDenied}
	dept := w.fx.t("v-department").lead
	return []verdict{
		{"no token, made-up code, source HOTLINE_FOLLOW_UP", "v-hotline-anon", "", "", hotline, "", "ZZZZ2222", refused},
		{"no token, made-up code, source COMMUNITY", "v-community-anon", "", "", community, communityA, "ZZZZ2222", refused},
		{"no token, the right code, source COMMUNITY", "v-community-anon-code", "", "", community, communityA, rightCode, refused},
		{"no token, the right code, source UNSPECIFIED", "v-unspecified-anon", "", "", none, "", rightCode, refused},
		{"no token, the right code, source DEFAULT", "v-refused", "", "", deflt, "", rightCode, append(refused, codes.InvalidArgument)},
		{"no token, a wrong code, source RESIDENT", "v-refused", "", "", resident, "", "ZZZZ2222", pd},
		{"no token, another ticket's code, source RESIDENT", "v-refused", "", "", resident, "", w.fx.t("v-resident").code, pd},
		{"community_officer@" + communityA + " source HOTLINE_FOLLOW_UP", "v-community-hotline", auth.RoleCommunityOfficer, communityA,
			hotline, communityA, "", pd},
		{"community_officer@" + communityB + " (another district's community)", "v-refused", auth.RoleCommunityOfficer, communityB,
			community, communityB, "", []codes.Code{codes.PermissionDenied, codes.NotFound}},
		{"community_officer@" + neighbourA + " (same street, another community)", "v-refused", auth.RoleCommunityOfficer, neighbourA,
			community, neighbourA, "", []codes.Code{codes.PermissionDenied, codes.NotFound}},
		{"community_officer@" + communityA + " with an empty evaluator org unit", "v-no-evaluator", auth.RoleCommunityOfficer, communityA,
			community, "", "", []codes.Code{codes.InvalidArgument, codes.PermissionDenied}},
		{"community_officer@" + communityA + " naming evaluator " + neighbourA, "v-refused", auth.RoleCommunityOfficer, communityA,
			community, neighbourA, "", pd},
		{"community_officer@" + neighbourA + " naming evaluator " + communityA + " (the reporting community)", "v-refused",
			auth.RoleCommunityOfficer, neighbourA, community, communityA, "", pd},
		{"department_handler@" + dept + " (the handling department) as the community", "v-department", auth.RoleDepartmentHandler, dept,
			community, dept, "", pd},
		{"department_lead@" + dept + " (the handling department) as a hotline follow-up", "v-department", auth.RoleDepartmentLead, dept,
			hotline, dept, "", pd},
		{"department_handler@" + dept + " (the handling department) with the resident's right code", "v-department",
			auth.RoleDepartmentHandler, dept, resident, dept, rightCode, pd},
		{"system@" + city + " source HOTLINE_FOLLOW_UP", "v-system-hotline", auth.RoleSystem, city, hotline, city, "", []codes.Code{codes.OK}},
		{"community_officer@" + communityA + " source COMMUNITY", "v-community", auth.RoleCommunityOfficer, communityA, community,
			communityA, "", []codes.Code{codes.OK}},
		{"no token, the right code, source RESIDENT", "v-resident", "", "", resident, "", rightCode, []codes.Code{codes.OK}},
		{"no token, the same code again in the same round", "v-resident", "", "", resident, "", rightCode, []codes.Code{codes.FailedPrecondition}},
	}
}

// runVerdicts plays check 3: only the reporting community's officer, the
// resident with the right code and a system's hotline follow-up may judge a
// resolved ticket; every refused verdict leaves it RESOLVED with no new
// audit row.
func (w *world) runVerdicts(ctx context.Context, rep *report) {
	for _, v := range w.verdicts() {
		w.runVerdict(ctx, rep, v)
	}
	for _, name := range []string{"v-hotline-anon", "v-community-anon", "v-community-anon-code", "v-unspecified-anon", "v-no-evaluator",
		"v-community-hotline", "v-refused", "v-department"} {
		t := w.fx.t(name)
		now := w.timelineOf(ctx, t)
		rep.check(gVerdict, fmt.Sprintf("after the refused verdicts monitoring shows %s (%s) RESOLVED", t.number, name),
			strings.HasPrefix(now, "RESOLVED "), "RESOLVED", now)
	}
}

func (w *world) runVerdict(ctx context.Context, rep *report, v verdict) {
	t := w.fx.t(v.ticket)
	code := v.code
	if code == rightCode {
		code = t.code
	}
	callCtx := anonymous(ctx)
	if v.role != "" {
		callCtx = w.as(ctx, "verdict", v.role, v.unit)
	}
	accepted := len(v.want) == 1 && v.want[0] == codes.OK
	before := w.verdictState(ctx, t)
	resp, err := w.c.Evaluation.Evaluate(callCtx, &whistlev1.EvaluateRequest{TicketId: t.id, Verdict: whistlev1.Verdict_VERDICT_SATISFIED,
		Source: v.source, EvaluationCode: code, Evaluator: &whistlev1.Actor{Id: "adv-verdict", OrgUnitId: v.by}})
	o := observe(resp, err)
	exp := oneOf(v.want...)
	ok, observed := exp.ok(o), o.String()
	expected := exp.desc
	if !accepted {
		expected += ", the round as it was, no new audit row"
		if after := w.verdictState(ctx, t); after != before {
			ok, observed = false, observed+"; changed: "+before+" → "+after
		}
	}
	rep.check(gVerdict, fmt.Sprintf("%s on %s", v.name, t.number), ok, expected, observed)
}

// verdictState is what a refused verdict must leave as it was, both written
// in the verdict's own transaction: the round and the ticket's audit rows.
// (That the ticket stays RESOLVED everywhere, which follows through events,
// is checked once all verdicts are in.)
func (w *world) verdictState(ctx context.Context, t *ticket) string {
	ctx = w.admin(ctx)
	var parts []string
	e, err := w.c.Evaluation.GetEvaluation(ctx, &whistlev1.GetEvaluationRequest{TicketId: t.id})
	parts = append(parts, render(err, func() string {
		return fmt.Sprintf("round %d %s", e.GetEvaluation().GetRound(), short(e.GetEvaluation().GetState().String()))
	}))
	audit, err := w.c.Audit.ListAudit(ctx, &whistlev1.ListAuditRequest{TicketId: t.id, PageSize: 500})
	parts = append(parts, render(err, func() string { return fmt.Sprintf("%d audit rows", len(audit.GetEntries())) }))
	return strings.Join(parts, ", ")
}
