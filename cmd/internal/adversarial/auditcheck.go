package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// auditSlack widens each call's time window when its audit row is looked
// for: the row's time is its transaction's start, within the call.
const auditSlack = 20 * time.Millisecond

// runAudit plays check 9: first the dead letters are acted on (if one can be
// made), then every successful mutating call the suite made — set-up,
// calls let through, controls, verdicts, dead letters — must have left an
// audit row by its caller, about its ticket, during the call.
func (w *world) runAudit(ctx context.Context, rep *report) {
	w.actOnDeadLetters(ctx, rep)
	calls := w.calls.all()
	progress(w.out, "audit: looking up the rows of %d successful mutating calls", len(calls))
	numbers := map[string]string{}
	for _, t := range w.fx.all {
		numbers[t.id] = t.number
	}
	for _, c := range calls {
		req := &whistlev1.ListAuditRequest{TicketId: c.ticket, Subject: c.subject, PageSize: 50,
			After: timestamppb.New(c.start.Add(-auditSlack)), Before: timestamppb.New(c.end.Add(auditSlack))}
		resp, err := w.c.Audit.ListAudit(w.admin(ctx), req)
		who := c.subject
		if who == "" {
			who = "a resident (no token)"
		}
		about := numbers[c.ticket]
		if about == "" {
			about = c.ticket
		}
		if about == "" {
			about = "no ticket"
		}
		var actions []string
		for _, e := range resp.GetEntries() {
			actions = append(actions, e.GetService()+":"+e.GetAction())
		}
		rep.check(gAudit, fmt.Sprintf("%s by %s (%s) at %s", shortMethod(c.method), who, about, c.start.Format("15:04:05.000")),
			err == nil && len(resp.GetEntries()) > 0, "an audit row by the caller, about the ticket, during the call",
			fmt.Sprintf("%s, rows [%s]", observe(resp, err).code, strings.Join(actions, " ")))
	}
}

func shortMethod(m string) string {
	return strings.Replace(strings.TrimPrefix(m, "/whistle.v1."), "/", ".", 1)
}

// actOnDeadLetters makes dead letters (an undecodable message on the
// reported subject, which every consumer of it gives up on at once), then
// replays one and discards another as admin. Without a way to publish there
// is no dead letter to act on, and the check is skipped, visibly.
func (w *world) actOnDeadLetters(ctx context.Context, rep *report) {
	const what = "DeadLetterService.ReplayDeadLetter and DiscardDeadLetter leave an audit row"
	start := time.Now()
	if err := w.publishGarbage(ctx); err != nil {
		rep.skip(gAudit, what, "no dead letter to act on: "+err.Error())
		return
	}
	admin := w.as(ctx, "deadletters", auth.RoleAdmin, city)
	replay, err := w.awaitDeadLetter(ctx, start, 0)
	if err != nil {
		rep.skip(gAudit, what, "no dead letter to act on: "+err.Error())
		return
	}
	r, err := w.c.DeadLetters.ReplayDeadLetter(admin, &whistlev1.ReplayDeadLetterRequest{Seq: replay,
		Actor: &whistlev1.Actor{Id: "adv-admin", OrgUnitId: city}})
	rep.check(gAudit, fmt.Sprintf("DeadLetterService.ReplayDeadLetter seq %d as admin", replay), err == nil, "OK", observe(r, err).String())
	discard, err := w.awaitDeadLetter(ctx, start, replay)
	if err != nil {
		rep.skip(gAudit, "DeadLetterService.DiscardDeadLetter", "no second dead letter to act on: "+err.Error())
		return
	}
	d, err := w.c.DeadLetters.DiscardDeadLetter(admin, &whistlev1.DiscardDeadLetterRequest{Seq: discard, Reason: "adversarial garbage",
		Actor: &whistlev1.Actor{Id: "adv-admin", OrgUnitId: city}})
	rep.check(gAudit, fmt.Sprintf("DeadLetterService.DiscardDeadLetter seq %d as admin", discard), err == nil, "OK", observe(d, err).String())
}

// publishGarbage puts a message that is no event on whistle.v1.reported,
// through the NATS URL dev gives its tools (with whatever credentials it carries).
func (w *world) publishGarbage(ctx context.Context) error {
	if w.dev.ends.NATS == "" {
		return fmt.Errorf("endpoints.json names no NATS URL")
	}
	nc, err := nats.Connect(w.dev.ends.NATS, nats.Timeout(3*time.Second), nats.NoReconnect(), nats.Name("adversarial-deadletters"))
	if err != nil {
		return fmt.Errorf("cannot connect to %s: %w", redact(w.dev.ends.NATS), err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := js.Publish(pctx, "whistle.v1.reported", []byte("adversarial: this is not an event")); err != nil {
		return fmt.Errorf("cannot publish to whistle.v1.reported: %w", err)
	}
	return nil
}

// awaitDeadLetter waits for a dead letter made since start, other than skip.
func (w *world) awaitDeadLetter(ctx context.Context, start time.Time, skip uint64) (uint64, error) {
	var seq uint64
	err := poll(ctx, "a dead letter of the garbage message", 30*time.Second, func(ctx context.Context) (bool, string) {
		resp, err := w.c.DeadLetters.ListDeadLetters(w.admin(ctx), &whistlev1.ListDeadLettersRequest{PageSize: 500})
		if err != nil {
			return false, err.Error()
		}
		for _, d := range resp.GetDeadLetters() {
			if d.GetSeq() != skip && !d.GetDeadLetteredAt().AsTime().Before(start.Add(-time.Second)) {
				seq = d.GetSeq()
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d dead letters, none new", len(resp.GetDeadLetters()))
	})
	return seq, err
}
