package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/backoff"
	"github.com/whistle-civic/whistle/pkg/clock"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// watchHeartbeat is how often an idle watch hears from the server.
const watchHeartbeat = 5 * time.Second

// readyOnce is closed when a watch is live (its first heartbeat arrived).
type readyOnce struct {
	once sync.Once
	ch   chan struct{}
}

func newReady() *readyOnce                 { return &readyOnce{ch: make(chan struct{})} }
func (r *readyOnce) mark()                 { r.once.Do(func() { close(r.ch) }) }
func (r *readyOnce) done() <-chan struct{} { return r.ch }

// watchInbox is a department's handler: it follows the department's inbox
// from now on, across reconnects (resuming after the last change seen), and
// acts on each of the run's tickets it leads: a DISPATCHED item is accepted,
// each assisting department reports its part, and it is resolved; a
// REOPENED item is resolved again.
func (r *loopRun) watchInbox(ctx context.Context, dept string, ready *readyOnce) {
	cursor, fromNow := "", true
	for failures := 0; ctx.Err() == nil; failures++ {
		err := r.inboxOnce(ctx, dept, &cursor, &fromNow, ready)
		if ctx.Err() != nil {
			return
		}
		r.errs.Add(rpcWatchInbox, err)
		r.reconnects.Add(1)
		clock.Sleep(ctx, backoff.Delay(failures+1, 100*time.Millisecond, 3*time.Second))
	}
}

// inboxOnce follows one stream until it breaks.
func (r *loopRun) inboxOnce(ctx context.Context, dept string, cursor *string, fromNow *bool, ready *readyOnce) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := r.d.Clients.Response.WatchInbox(r.d.As(ctx, auth.RoleDepartmentHandler, dept), &whistlev1.WatchInboxRequest{
		DepartmentId: dept, AfterCursor: *cursor, FromNow: *fromNow, HeartbeatInterval: durationpb.New(watchHeartbeat)})
	if err != nil {
		return err
	}
	for {
		msg, err := stream.Recv()
		if err != nil {
			return err
		}
		ch := msg.GetChange()
		if ch == nil {
			*cursor, *fromNow = msg.GetHeartbeatCursor(), false
			ready.mark()
			continue
		}
		*cursor = ch.GetCursor()
		r.onInbox(ctx, dept, ch)
	}
}

// onInbox acts on a change to the run's tickets that dept leads.
func (r *loopRun) onInbox(ctx context.Context, dept string, ch *whistlev1.InboxChange) {
	item := ch.GetItem()
	if ch.GetKind() != whistlev1.InboxChangeKind_INBOX_CHANGE_KIND_UPSERT || item.GetDepartmentId() != dept ||
		item.GetRole() == whistlev1.InboxRole_INBOX_ROLE_ASSIST || !item.GetSynthetic() || !strings.HasPrefix(item.GetTitle(), r.tag+" ") {
		return
	}
	tk, act, round := r.tr.inbox(item, r.now())
	switch act {
	case actAccept:
		r.spawn(func() { r.handle(r.drain, tk, item) })
	case actResolve:
		r.spawn(func() { r.resolve(r.drain, tk, dept, round) })
	}
}

// handle accepts a new assignment, has each assisting department report its
// part, and resolves it.
func (r *loopRun) handle(ctx context.Context, tk *ticket, item *whistlev1.InboxItem) {
	dept, id := item.GetDepartmentId(), item.GetTicketId()
	actor := &whistlev1.Actor{Id: "bench-handler", OrgUnitId: dept, DisplayName: "bench"}
	err := r.call(ctx, rpcAccept, func(ctx context.Context) error {
		_, err := r.d.Clients.Response.Accept(r.d.As(ctx, auth.RoleDepartmentHandler, dept),
			&whistlev1.AcceptRequest{TicketId: id, Actor: actor, RequestId: id + "-accept"})
		return err
	})
	if err != nil {
		r.tr.fail(tk)
		return
	}
	for _, a := range item.GetAssists() {
		helper := a.GetDepartmentId()
		err := r.call(ctx, rpcReportAssist, func(ctx context.Context) error {
			_, err := r.d.Clients.Response.ReportAssist(r.d.As(ctx, auth.RoleDepartmentHandler, helper), &whistlev1.ReportAssistRequest{
				TicketId: id, Note: "assisted", RequestId: id + "-assist-" + helper,
				Actor: &whistlev1.Actor{Id: "bench-helper", OrgUnitId: helper, DisplayName: "bench"}})
			return err
		})
		if err != nil {
			r.tr.fail(tk)
			return
		}
	}
	r.resolve(ctx, tk, dept, 1)
}

// resolve resolves round `round` of the ticket as its lead department.
func (r *loopRun) resolve(ctx context.Context, tk *ticket, dept string, round int) {
	id := tk.id
	err := r.call(ctx, rpcResolve, func(ctx context.Context) error {
		_, err := r.d.Clients.Response.Resolve(r.d.As(ctx, auth.RoleDepartmentHandler, dept), &whistlev1.ResolveRequest{
			TicketId: id, Result: fmt.Sprintf("Fixed (round %d)", round), RequestId: fmt.Sprintf("%s-resolve-%d", id, round),
			Actor: &whistlev1.Actor{Id: "bench-handler", OrgUnitId: dept, DisplayName: "bench"}})
		return err
	})
	if err != nil {
		r.tr.fail(tk)
	}
}
