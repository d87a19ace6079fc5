package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// auditSlack widens each call's time window when its audit row is looked
// for: the row's time is its transaction's start, within the call.
const auditSlack = 20 * time.Millisecond

// runAudit plays check 9: first a dead letter is replayed and another
// discarded, each leaving one audit row (actOnDeadLetters, on a dev of
// their own), then every successful mutating call the suite made to dev —
// set-up, calls let through, controls, verdicts — must have left an audit
// row by its caller, about its ticket, during the call.
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
