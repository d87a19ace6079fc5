package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
	"github.com/whistle-civic/whistle/cmd/internal/stack"
)

// verdict is what the checks found once everything was back.
type verdict struct {
	lost, duplicated int
	problems         []string
}

func (v *verdict) problem(format string, args ...any) {
	if len(v.problems) < 20 {
		v.problems = append(v.problems, fmt.Sprintf(format, args...))
	}
}

// verify checks the promise after a scenario: every accepted whistle closed,
// none twice, no transition applied twice, the outboxes drained, every
// consumer caught up, nothing dead-lettered, and monitoring's counts equal
// intake's.
func verify(ctx context.Context, e *env, res loop.Result, runID string) verdict {
	var v verdict
	v.tickets(ctx, e, res)
	v.intakeAgrees(ctx, e, res, runID)
	v.drained(ctx, e)
	return v
}

// tickets checks each ticket's timeline: closed, versions 1..n each applied
// once, no event twice.
func (v *verdict) tickets(ctx context.Context, e *env, res loop.Result) {
	monitor := e.as(ctx, auth.RoleMonitor, "hh")
	for _, id := range res.TicketIDs {
		if id == "" {
			continue // its report never got an answer: no whistle was accepted
		}
		tl, err := e.clients.Monitoring.GetTimeline(monitor, &whistlev1.GetTimelineRequest{TicketId: id})
		if err != nil || tl.GetState().GetStatus() != whistlev1.TicketStatus_TICKET_STATUS_CLOSED {
			v.lost++
			v.problem("ticket %s not closed: %s %v", id, tl.GetState().GetStatus(), err)
			continue
		}
		if why := doubled(tl.GetEntries()); why != "" {
			v.duplicated++
			v.problem("ticket %s: %s", id, why)
		}
	}
}

// doubled says what is wrong with a timeline, or "".
func doubled(entries []*whistlev1.TimelineEntry) string {
	seen := map[string]bool{}
	version := int64(0)
	for _, e := range entries {
		if seen[e.GetEventId()] {
			return "event " + e.GetEventId() + " twice"
		}
		seen[e.GetEventId()] = true
		if events.IsTransition(e.GetEventType()) {
			if e.GetVersion() != version+1 {
				return fmt.Sprintf("%s at version %d after version %d", e.GetEventType(), e.GetVersion(), version)
			}
			version = e.GetVersion()
		}
	}
	return ""
}

// intakeAgrees checks that intake holds exactly the run's whistles, once
// each, and that monitoring counts as many.
func (v *verdict) intakeAgrees(ctx context.Context, e *env, res loop.Result, runID string) {
	admin := e.as(ctx, auth.RoleAdmin, "hh")
	prefix, n, all, token := "smoke-"+runID+"-", 0, 0, ""
	keys := map[string]bool{}
	for {
		page, err := e.clients.Intake.ListTickets(admin, &whistlev1.ListTicketsRequest{IncludeSynthetic: true, PageSize: 500, PageToken: token})
		if err != nil {
			v.problem("list intake's tickets: %v", err)
			return
		}
		for _, t := range page.GetTickets() {
			all++
			if strings.HasPrefix(t.GetIdempotencyKey(), prefix) {
				n++
				if keys[t.GetIdempotencyKey()] {
					v.duplicated++
				}
				keys[t.GetIdempotencyKey()] = true
			}
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	if n != res.Reported {
		v.problem("intake holds %d tickets of the run, the load generator had %d accepted", n, res.Reported)
		if n > res.Reported {
			v.duplicated += n - res.Reported
		} else {
			v.lost += res.Reported - n
		}
	}
	counts, err := e.clients.Monitoring.GetCounts(e.as(ctx, auth.RoleMonitor, "hh"), &whistlev1.GetCountsRequest{IncludeSynthetic: true})
	if err != nil || counts.GetTotal() != int64(all) {
		v.problem("monitoring counts %d tickets, intake holds %d (%v)", counts.GetTotal(), all, err)
	}
}

// drained waits (up to a minute) until every outbox is empty, every
// consumer has taken and acknowledged every event, and no dead letter waits.
func (v *verdict) drained(ctx context.Context, e *env) {
	deadline := time.Now().Add(time.Minute)
	var last string
	for time.Now().Before(deadline) {
		if last = backlog(ctx, e); last == "" {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	v.problem("not drained after a minute: %s", last)
}

// backlog describes what is still in flight, or "" when nothing is.
func backlog(ctx context.Context, e *env) string {
	var out []string
	for _, name := range stack.Names {
		var n int
		if err := e.db.QueryRow(ctx, `SELECT count(*) FROM `+name+`.outbox WHERE sent_at IS NULL`).Scan(&n); err != nil {
			return "outbox of " + name + ": " + err.Error()
		}
		if n > 0 {
			out = append(out, fmt.Sprintf("%d in %s's outbox", n, name))
		}
	}
	nc, err := nats.Connect(e.natsURL, e.secrets.natsOptions()...)
	if err != nil {
		return "NATS: " + err.Error()
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err.Error()
	}
	s, err := js.Stream(ctx, "WHISTLE")
	if err != nil {
		return "stream: " + err.Error()
	}
	for info := range s.ListConsumers(ctx).Info() {
		if lag := info.NumPending + uint64(info.NumAckPending); lag > 0 {
			out = append(out, fmt.Sprintf("consumer %s %d behind", info.Name, lag))
		}
	}
	if dlq, err := js.Stream(ctx, "WHISTLE_DLQ"); err == nil {
		if info, err := dlq.Info(ctx); err == nil && info.State.Msgs > 0 {
			out = append(out, fmt.Sprintf("%d dead letters", info.State.Msgs))
		}
	}
	return strings.Join(out, ", ")
}
