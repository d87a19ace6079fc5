package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/policy"
)

// place is where a role acts in scope of community A's tickets, and
// somewhere else in the tree (in a district that holds no ticket of ours).
type place struct{ in, out string }

var places = map[auth.Role]place{
	auth.RoleReporter: {gridA, "yq-ht-dls-g01"}, auth.RoleCommunityOfficer: {communityA, "yq-ht-dls"},
	auth.RoleStreetOfficer: {streetA, "yq-ht"}, auth.RoleDepartmentHandler: {"xc-water", "yq-water"},
	auth.RoleDepartmentLead: {"xc-water", "yq-water"}, auth.RoleMonitor: {city, "yq"}, auth.RoleAdmin: {city, "yq"},
	auth.RoleSystem: {city, "yq"},
}

// column is one way of calling an RPC as a role.
type column string

const (
	colIn      column = "in scope"
	colOut     column = "out of scope"
	colForeign column = "acting for another unit"
	colNoActor column = "acting unit empty"
)

// row is one call of the table and what it must come back with.
type row struct {
	group, name string
	ctx         context.Context
	k           target
	exp         expectation
	refused     bool                         // a mutating call that is refused must change nothing
	extra       func(outcome) (bool, string) // a further check of an answer that passed exp
}

// rule returns the scope the policy table gives role for the case, if any.
func rule(c rpcCase, role auth.Role) (policy.Scope, bool) {
	m := c.method
	if c.rulesOf != "" {
		m = c.rulesOf
	}
	for _, r := range policy.Table[m] {
		if r.Role == role {
			return r.Scope, true
		}
	}
	return "", false
}

// runPolicy plays check 1: every case as every role, in scope and out of
// it, without a token, and naming another acting unit or none.
func (w *world) runPolicy(ctx context.Context, rep *report) {
	w.checkCoverage(rep)
	before := w.timelines(ctx, []string{"matrix"})
	defer w.checkTimelines(ctx, rep, gPolicy, "the refused calls of the table", before)
	var n atomic.Int32
	stop := w.ticker(ctx, func() { progress(w.out, "policy table: %d rows so far", n.Load()) })
	defer stop()
	for _, m := range tableMethods() {
		for _, c := range casesOf(m) {
			for _, r := range w.rowsOf(ctx, c) {
				w.run(ctx, rep, c, r)
				n.Add(1)
			}
		}
	}
}

// tableMethods are the actions of pkg/policy.Table, sorted.
func tableMethods() []string {
	ms := make([]string, 0, len(policy.Table))
	for m := range policy.Table {
		ms = append(ms, m)
	}
	sort.Strings(ms)
	return ms
}

// tableRoles are auth's roles and any other the table names, in auth's order.
func tableRoles() []auth.Role {
	roles := slices.Clone(auth.Roles)
	for _, m := range tableMethods() {
		for _, r := range policy.Table[m] {
			if !slices.Contains(roles, r.Role) {
				roles = append(roles, r.Role)
			}
		}
	}
	return roles
}

// casesOf are the cases that call method.
func casesOf(method string) []rpcCase {
	var out []rpcCase
	for _, c := range cases {
		if c.method == method {
			out = append(out, c)
		}
	}
	return out
}

// rowsOf are a case's rows: without a token, then each role in each column.
func (w *world) rowsOf(ctx context.Context, c rpcCase) []row {
	rows := []row{w.noTokenRow(ctx, c)}
	for _, role := range tableRoles() {
		if role == auth.RoleResident {
			rows = append(rows, w.residentRows(ctx, c)...)
			continue
		}
		cols := []column{colIn, colOut}
		if c.actor != noActor {
			cols = append(cols, colForeign, colNoActor)
		}
		for _, col := range cols {
			if r, ok := w.tableRow(ctx, c, role, col); ok {
				rows = append(rows, r)
			}
		}
	}
	return rows
}

// tableRow builds the row of one role and column; false when the column
// means nothing for the role (a report "from elsewhere" by a caller whose
// place is the whole city).
func (w *world) tableRow(ctx context.Context, c rpcCase, role auth.Role, col column) (row, bool) {
	in := places[role].in
	if c.dept != "" && (role == auth.RoleDepartmentHandler || role == auth.RoleDepartmentLead) {
		in = c.dept
	}
	org := in
	switch col {
	case colOut:
		org = places[role].out
	}
	scope, has := rule(c, role)
	if col == colForeign && c.actor == reporter && has && (scope == policy.Anywhere || in == city) {
		return row{}, false // every reporting unit lies in its place
	}
	r := row{group: gPolicy, ctx: w.as(ctx, "table", role, org)}
	r.k = w.target(c, role, in, org, true)
	switch {
	case !has:
		r.exp, r.refused = oneOf(codes.PermissionDenied), true
	case col == colForeign:
		r.k.actor = places[role].out
		r.exp, r.refused = oneOf(codes.PermissionDenied), true
	case col == colNoActor:
		r.k.actor = ""
		r.exp, r.refused = oneOf(codes.InvalidArgument, codes.PermissionDenied), true
	case col == colIn || scope == policy.Anywhere:
		r.k = w.target(c, role, in, org, false)
		r.exp = letThrough()
		if c.sees && col == colIn {
			r.extra = func(o outcome) (bool, string) {
				return shows(o.resp, r.k.ticket.id), "the answer shows " + r.k.ticket.number
			}
		}
	default:
		r.exp, r.refused, r.extra = w.elsewhere(c)
	}
	r.name = fmt.Sprintf("%s %s@%s %s", c.name, role, org, col)
	if !has {
		r.name += " (role not in the policy row)"
	}
	return r, true
}

// elsewhere is what a call about our place must get from a caller elsewhere.
func (w *world) elsewhere(c rpcCase) (expectation, bool, func(outcome) (bool, string)) {
	switch c.scope {
	case onTicket:
		return oneOf(codes.NotFound), true, nil // run compares it with a missing ticket's answer
	case onUnit:
		return oneOf(codes.PermissionDenied), true, nil
	}
	return oneOf(codes.OK, codes.PermissionDenied), true, w.nothingOfOurs(leakOpts{secrets: w.secrets, numbers: true})
}

// nothingOfOurs passes answers that show none of o's data.
func (w *world) nothingOfOurs(o leakOpts) func(outcome) (bool, string) {
	return func(out outcome) (bool, string) {
		found := leaks(out.resp, o)
		return len(found) == 0, "shows " + strings.Join(found, ", ")
	}
}

// target fills in what a call names: the in-scope unit, the acting unit (the
// caller's own), the ticket (one nothing may change when the call must be
// refused), and a fresh key.
func (w *world) target(c rpcCase, role auth.Role, in, org string, refused bool) target {
	about := "matrix-ok"
	if refused {
		about = "matrix"
	}
	if c.about != nil {
		about = c.about(refused)
	}
	t := w.fx.t(about)
	return target{ticket: t, unit: in, actor: org, role: role, key: w.key(), catalog: w.catalog.GetVersion(), code: t.code}
}

// noTokenRow calls the case without credentials.
func (w *world) noTokenRow(ctx context.Context, c rpcCase) row {
	k := w.target(c, "", communityA, communityA, true)
	return row{group: gPolicy, name: c.name + " no token", ctx: anonymous(ctx), k: k, exp: oneOf(codes.Unauthenticated), refused: true}
}

// residentRows: a resident judges with a code and no token (the right code
// is let through, another ticket's is not); a bearer token that says
// "resident" is not a way in for any call (check 7).
func (w *world) residentRows(ctx context.Context, c rpcCase) []row {
	foreign := w.fx.t("b-resolved").code
	tokenCtx := w.as(ctx, "table", auth.RoleResident, communityA)
	k := w.target(c, auth.RoleResident, communityA, communityA, true)
	k.code = foreign
	rows := []row{{group: gToken, name: c.name + " bearer token with role resident", ctx: tokenCtx, k: k,
		exp: oneOf(codes.Unauthenticated), refused: true}}
	if c.method != svc("EvaluationService.Evaluate") {
		return rows
	}
	in := w.target(c, auth.RoleResident, "", "", false)
	out := w.target(c, auth.RoleResident, "", "", true)
	out.code = foreign
	return append(rows,
		row{group: gPolicy, name: c.name + " resident (no token) with the ticket's code", ctx: anonymous(ctx), k: in, exp: letThrough()},
		row{group: gPolicy, name: c.name + " resident (no token) with another ticket's code", ctx: anonymous(ctx), k: out,
			exp: oneOf(codes.PermissionDenied), refused: true})
}

// run makes a row's call and records whether it came back as it must; a
// refused mutating call must also have changed nothing.
func (w *world) run(ctx context.Context, rep *report, c rpcCase, r row) {
	check := r.refused && grpcserver.IsMutating(c.method)
	var about *ticket
	if c.scope == onTicket {
		about = r.k.ticket
	}
	var before snapshot
	if check {
		before = w.take(ctx, about, c.method)
	}
	timeout := callTimeout
	if c.stream {
		timeout = streamTimeout
	}
	cctx, cancel := context.WithTimeout(r.ctx, timeout)
	o := observe(c.call(cctx, w.c, r.k))
	cancel()
	ok := r.exp.ok(o) || (!r.refused && c.answered != nil && c.answered(o))
	observed := o.String()
	if o.code == codes.NotFound && c.scope == onTicket && r.refused && r.group == gPolicy {
		w.compareMissing(rep, r, c, o)
	}
	if ok && r.extra != nil && o.code == 0 {
		if good, note := r.extra(o); !good {
			ok, observed = false, observed+"; "+note
		}
	}
	expected := r.exp.desc
	if check {
		expected += ", nothing changed"
		if d := before.diff(w.take(ctx, about, c.method)); d != "" {
			ok, observed = false, observed+"; changed: "+d
		}
	}
	rep.check(r.group, r.name, ok, expected, observed)
}

// compareMissing makes the first NotFound row of each case again about a ticket that does not exist: a ticket elsewhere must be
// refused exactly alike, message and all, so that nobody learns it exists.
func (w *world) compareMissing(rep *report, r row, c rpcCase, o outcome) {
	if _, done := w.compared.LoadOrStore(c.name, true); done {
		return
	}
	k := r.k
	k.ticket = &ticket{id: ids.New(), number: "HH-19700101-99999", code: "ZZZZ9999", lead: k.ticket.lead}
	cctx, cancel := context.WithTimeout(r.ctx, callTimeout)
	m := observe(c.call(cctx, w.c, k))
	cancel()
	norm := func(msg string, t *ticket) string {
		return strings.NewReplacer(t.id, "<ticket>", t.number, "<ticket>").Replace(msg)
	}
	rep.check(r.group, fmt.Sprintf("%s: a ticket elsewhere reads as a missing one (%s)", c.name, strings.TrimPrefix(r.name, c.name+" ")),
		m.code == o.code && norm(m.msg, k.ticket) == norm(o.msg, r.k.ticket),
		"the same code and message as for a missing ticket: "+m.String(), o.String())
}

// checkCoverage fails loudly when an RPC of the policy table, or of the
// API, has no case, or a role of the table has no place to act from.
func (w *world) checkCoverage(rep *report) {
	have := map[string]bool{}
	for _, c := range cases {
		have[c.method] = true
	}
	for m, rules := range policy.Table {
		var unplaced []string
		for _, r := range rules {
			if _, ok := places[r.Role]; !ok && r.Role != auth.RoleResident {
				unplaced = append(unplaced, string(r.Role))
			}
		}
		rep.check(gPolicy, "coverage: "+m, have[m] && len(unplaced) == 0,
			"a case in cases.go, a place in matrix.go for every role of its row",
			fmt.Sprintf("case %v, roles without a place %v", have[m], unplaced))
	}
	protoregistry.GlobalFiles.RangeFilesByPackage("whistle.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				m := fmt.Sprintf("/%s/%s", sd.FullName(), sd.Methods().Get(j).Name())
				if _, inTable := policy.Table[m]; !inTable || !have[m] {
					rep.check(gPolicy, "coverage: "+m, false, "a case and a row of pkg/policy.Table",
						fmt.Sprintf("case %v, policy row %v", have[m], inTable))
				}
			}
		}
		return true
	})
}
