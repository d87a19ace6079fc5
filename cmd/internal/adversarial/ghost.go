package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
	"github.com/whistle-civic/whistle/pkg/policy"
)

// runGhost plays check 2: a token for an org unit that is not in the tree
// sees nothing, in every service: every case whose row scopes the role
// (area or department) is called as that role for "ghost", naming our place
// and, where a unit is named, naming ghost or nothing; then the two streams
// are watched while something happens in our place.
func (w *world) runGhost(ctx context.Context, rep *report) {
	before := w.timelines(ctx, []string{"matrix"})
	for _, c := range cases {
		for _, role := range auth.Roles {
			scope, has := rule(c, role)
			if !has || scope == policy.Anywhere || scope == policy.WithCode {
				continue
			}
			for _, r := range w.ghostRows(ctx, c, role) {
				w.run(ctx, rep, c, r)
			}
		}
	}
	w.checkTimelines(ctx, rep, gGhost, "the calls for ghost", before)
	w.ghostStreams(ctx, rep)
}

func (w *world) ghostRows(ctx context.Context, c rpcCase, role auth.Role) []row {
	in := places[role].in
	if c.dept != "" && (role == auth.RoleDepartmentHandler || role == auth.RoleDepartmentLead) {
		in = c.dept
	}
	mutating := grpcserver.IsMutating(c.method)
	base := row{group: gGhost, ctx: w.as(ctx, "ghost", role, ghost), k: w.target(c, role, in, ghost, true), refused: true}
	base.exp, base.extra = w.seesNothing(mutating)
	named := map[scope]string{onTicket: "ticket " + base.k.ticket.number, onUnit: in, onOwn: "nothing", onNothing: "nothing"}[c.scope]
	base.name = fmt.Sprintf("%s %s@ghost naming %s", c.name, role, named)
	rows := []row{base}
	if c.scope != onUnit {
		return rows
	}
	own := base
	own.k.unit, own.name = ghost, fmt.Sprintf("%s %s@ghost naming ghost", c.name, role)
	rows = append(rows, own)
	if c.unitOptional {
		none := base
		none.k.unit, none.name = "", fmt.Sprintf("%s %s@ghost naming no unit", c.name, role)
		rows = append(rows, none)
	}
	return rows
}

// seesNothing: refused, or an answer that shows no ticket, unit or count of
// the city. A mutating call must be refused outright.
func (w *world) seesNothing(mutating bool) (expectation, func(outcome) (bool, string)) {
	refusals := []codes.Code{codes.PermissionDenied, codes.NotFound, codes.Unauthenticated}
	exp := expectation{desc: "PermissionDenied, NotFound or Unauthenticated", ok: func(o outcome) bool { return slices.Contains(refusals, o.code) }}
	if !mutating {
		exp.desc = "refused, or an answer showing nothing of the city"
		exp.ok = func(o outcome) bool {
			return o.code == codes.OK || o.code == codes.InvalidArgument || slices.Contains(refusals, o.code)
		}
	}
	return exp, w.nothingOfOurs(leakOpts{secrets: w.secrets, units: w.units, numbers: true})
}

// ghostStreams watches WatchEvents and WatchInbox as ghost while a control
// watcher in our place sees a change happen: ghost must get an error or
// nothing but heartbeats.
func (w *world) ghostStreams(ctx context.Context, rep *report) {
	acc := w.fx.t("accepted")
	trigger := func(ctx context.Context) error {
		_, err := w.c.Response.AddProgress(w.as(ctx, "ghost", auth.RoleDepartmentHandler, acc.lead), &whistlev1.AddProgressRequest{
			TicketId: acc.id, Note: "checked again", Actor: &whistlev1.Actor{Id: "adv-ghost", OrgUnitId: acc.lead}})
		return err
	}
	events := func(role auth.Role, org string) opener {
		return func(ctx context.Context) (receiver, error) {
			return w.c.Monitoring.WatchEvents(w.as(ctx, "ghost", role, org), &whistlev1.WatchEventsRequest{})
		}
	}
	inbox := func(org, dept string) opener {
		return func(ctx context.Context) (receiver, error) {
			return w.c.Response.WatchInbox(w.as(ctx, "ghost", auth.RoleDepartmentHandler, org),
				&whistlev1.WatchInboxRequest{DepartmentId: dept, FromNow: true})
		}
	}
	isEvent := func(m proto.Message) bool {
		switch x := m.(type) {
		case *whistlev1.WatchEventsResponse:
			return !x.GetHeartbeat()
		case *whistlev1.WatchInboxResponse:
			return x.GetChange() != nil
		}
		return false
	}
	for _, s := range []struct {
		name           string
		ghost, control opener
	}{
		{"MonitoringService.WatchEvents monitor@ghost while " + acc.number + " changes", events(auth.RoleMonitor, ghost), events(auth.RoleAdmin, city)},
		{"ResponseService.WatchInbox department_handler@ghost on " + acc.lead + " while it changes", inbox(ghost, acc.lead), inbox(acc.lead, acc.lead)},
		{"ResponseService.WatchInbox department_handler@ghost on ghost while " + acc.lead + " changes", inbox(ghost, ghost), inbox(acc.lead, acc.lead)},
	} {
		w.watchWhile(ctx, rep, gGhost, s.name, s.ghost, s.control, isEvent, trigger, func(m proto.Message) []string {
			if isEvent(m) {
				return []string{"an event: " + clip(fmt.Sprint(m), 100)}
			}
			return nil
		})
	}
}

// receiver is a server stream's receiving end.
type receiver interface{ RecvMsg(any) error }

// opener opens a stream as someone.
type opener func(ctx context.Context) (receiver, error)

// watcher collects what a stream sends until it ends.
type watcher struct {
	mu   sync.Mutex
	msgs []proto.Message
	err  error
	done chan struct{}
}

// watchStream reads a stream of T in the background.
func watchStream[T any, PT interface {
	*T
	proto.Message
}](ctx context.Context, open opener) *watcher {
	wt := &watcher{done: make(chan struct{})}
	go func() {
		defer close(wt.done)
		s, err := open(ctx)
		for err == nil {
			m := PT(new(T))
			if err = s.RecvMsg(m); err == nil {
				wt.mu.Lock()
				wt.msgs = append(wt.msgs, m)
				wt.mu.Unlock()
			}
		}
		wt.mu.Lock()
		wt.err = err
		wt.mu.Unlock()
	}()
	return wt
}

func (wt *watcher) seen() ([]proto.Message, error) {
	wt.mu.Lock()
	defer wt.mu.Unlock()
	return append([]proto.Message(nil), wt.msgs...), wt.err
}

// watchWhile opens the watched stream and a control stream, makes a change
// (trigger), waits until the control stream has seen an event, gives the
// watched one a further second, and checks what it got with bad: an error
// or messages bad finds nothing in pass.
func (w *world) watchWhile(ctx context.Context, rep *report, group, name string, watched, control opener,
	isEvent func(proto.Message) bool, trigger func(context.Context) error, bad func(proto.Message) []string) {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	newWatch := watchStream[whistlev1.WatchEventsResponse]
	if strings.Contains(name, "WatchInbox") {
		newWatch = watchStream[whistlev1.WatchInboxResponse]
	}
	ghostW, controlW := newWatch(sctx, watched), newWatch(sctx, control)
	live := func(wt *watcher) func(context.Context) (bool, string) {
		return func(context.Context) (bool, string) {
			msgs, err := wt.seen()
			return len(msgs) > 0 || err != nil, "no first message yet"
		}
	}
	if err := poll(sctx, "the control stream's first message", 10*time.Second, live(controlW)); err != nil {
		rep.check(group, name, false, "a control stream that works", err.Error())
		return
	}
	_ = poll(sctx, "the watched stream's first message", 5*time.Second, live(ghostW))
	if err := trigger(sctx); err != nil {
		rep.check(group, name, false, "a change to watch", "the change failed: "+err.Error())
		return
	}
	err := poll(sctx, "the control stream to see the change", 15*time.Second, func(context.Context) (bool, string) {
		msgs, err := controlW.seen()
		return slices.ContainsFunc(msgs, isEvent), fmt.Sprintf("%d messages, error %v", len(msgs), err)
	})
	if err != nil {
		rep.check(group, name, false, "the control stream to see the change", err.Error())
		return
	}
	select { // the watched stream reads the same feed: one more second of reading is plenty
	case <-time.After(time.Second):
	case <-sctx.Done():
	}
	msgs, serr := ghostW.seen()
	var found []string
	for _, m := range msgs {
		found = append(found, bad(m)...)
	}
	observed := fmt.Sprintf("%d messages", len(msgs))
	if serr != nil && status.Code(serr) != codes.Canceled && status.Code(serr) != codes.DeadlineExceeded {
		observed = fmt.Sprintf("%d messages, then %s: %s", len(msgs), status.Code(serr), status.Convert(serr).Message())
	}
	if len(found) > 0 {
		observed += "; shows " + strings.Join(found, ", ")
	}
	rep.check(group, name, len(found) == 0 && !broken(serr), "an error, or no event of ours", observed)
}

// broken reports a stream that failed as no refusal should.
func broken(err error) bool {
	c := status.Code(err)
	return err != nil && (c == codes.Internal || c == codes.Unknown)
}
