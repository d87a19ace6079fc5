package main

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
)

// rateTickets are resolved tickets for check 6: one whose code is guessed
// at, one judged from the same address afterwards, one from another address
// after a flood.
var rateTickets = []string{"rate-locked", "rate-other", "rate-other-peer"}

// codeTries is how many wrong codes a ticket takes before its code locks.
const codeTries = 5

// floodWorkers is how many code calls the flood keeps in flight: far more
// than the default limit (50 a second, bursts of 100) lets through.
const floodWorkers = 50

// runRateLimits plays check 6.
func (w *world) runRateLimits(ctx context.Context, rep *report) {
	locked := w.fx.t("rate-locked")
	before := w.verdictState(ctx, locked)
	for i := 1; i <= codeTries+1; i++ {
		o := w.residentVerdict(ctx, w.c, locked, fmt.Sprintf("WRONG%03d", i))
		switch {
		case i < codeTries:
			rep.check(gRate, fmt.Sprintf("wrong code #%d for %s", i, locked.number), o.code == codes.PermissionDenied, "PermissionDenied", o.String())
		case i == codeTries:
			rep.check(gRate, fmt.Sprintf("wrong code #%d for %s", i, locked.number), lockedOut(o) || o.code == codes.PermissionDenied,
				"PermissionDenied, or the code locked", o.String())
		default:
			rep.check(gRate, fmt.Sprintf("wrong code #%d for %s: the code is locked", i, locked.number), lockedOut(o),
				"FailedPrecondition or ResourceExhausted with a message", o.String())
		}
	}
	o := w.residentVerdict(ctx, w.c, locked, locked.code)
	after := w.verdictState(ctx, locked)
	rep.check(gRate, fmt.Sprintf("the right code for %s after %d wrong ones", locked.number, codeTries+1), lockedOut(o) && after == before,
		"FailedPrecondition or ResourceExhausted (locked), the round as it was", fmt.Sprintf("%s; %s → %s", o, before, after))
	other := w.fx.t("rate-other")
	o = w.residentVerdict(ctx, w.c, other, other.code)
	rep.check(gRate, fmt.Sprintf("another resident's right code for %s while %s is locked", other.number, locked.number),
		o.code == codes.OK, "OK", o.String())
	w.flood(ctx, rep)
}

// lockedOut: refused for too many tries, and saying so.
func lockedOut(o outcome) bool {
	return (o.code == codes.FailedPrecondition || o.code == codes.ResourceExhausted) && strings.TrimSpace(o.msg) != ""
}

func (w *world) residentVerdict(ctx context.Context, c loop.Clients, t *ticket, code string) outcome {
	cctx, cancel := context.WithTimeout(anonymous(ctx), callTimeout)
	defer cancel()
	return observe(c.Evaluation.Evaluate(cctx, &whistlev1.EvaluateRequest{TicketId: t.id, Verdict: whistlev1.Verdict_VERDICT_SATISFIED,
		Source: whistlev1.EvaluationSource_EVALUATION_SOURCE_RESIDENT, EvaluationCode: code,
		Evaluator: &whistlev1.Actor{Id: "resident", OrgUnitId: ""}}))
}

// flood keeps code calls from 127.0.0.1 going at a ticket that does not
// exist until some are limited, and while it goes on, a token caller and a
// resident at another address (127.0.0.2) must get through.
func (w *world) flood(ctx context.Context, rep *report) {
	progress(w.out, "rate limits: flooding with code calls from 127.0.0.1")
	f := w.startFlood(ctx)
	err := poll(ctx, "the flood to be limited", 15*time.Second, func(context.Context) (bool, string) {
		by := f.counts()
		return by[codes.ResourceExhausted] > 0, countsOf(by)
	})
	if err != nil {
		f.stop()
		rep.check(gRate, "a flood of code calls from one address", false, "some ResourceExhausted", err.Error())
		return
	}
	rctx, cancel := context.WithTimeout(w.as(ctx, "rate", auth.RoleReporter, gridA), callTimeout)
	resp, rerr := w.c.Intake.Report(rctx, &whistlev1.ReportRequest{IdempotencyKey: w.key(), Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY,
		Source: whistlev1.Source_SOURCE_GRID_PATROL, Category: "noise", Description: "during a flood",
		Location: &whistlev1.Location{GridId: gridA}, Reporter: &whistlev1.Reporter{OrgUnitId: gridA}, Synthetic: true})
	cancel()
	other, why := w.otherPeer(ctx)
	by := f.stop()
	rep.check(gRate, "a flood of code calls from one address", by[codes.ResourceExhausted] > 0, "some ResourceExhausted", countsOf(by))
	rep.check(gRate, "a token caller during the flood (IntakeService.Report)", rerr == nil, "OK", observe(resp, rerr).String())
	const name = "a resident at 127.0.0.2 with the right code during the flood"
	if why != "" {
		rep.skip(gRate, name, why)
		return
	}
	rep.check(gRate, name, other.code == codes.OK,
		"OK (one address's flood locks no one else out)", other.String())
}

// otherPeer is a resident at 127.0.0.2 who mistypes their code a few times
// (a handful of calls, far below any limit) and then sends the right one
// for rate-other-peer; the first limited call, or the last answer, is the
// outcome. It says why when that address cannot connect.
func (w *world) otherPeer(ctx context.Context) (outcome, string) {
	c, closeConn, err := w.dialFrom("127.0.0.2")
	if err != nil {
		return outcome{}, "cannot connect from 127.0.0.2: " + err.Error()
	}
	defer closeConn()
	t := w.fx.t("rate-other-peer")
	for i := 1; i <= 3; i++ {
		o := w.residentVerdict(ctx, c, t, fmt.Sprintf("TYPO%04d", i))
		switch o.code {
		case codes.Unavailable:
			return outcome{}, "cannot connect from 127.0.0.2: " + o.msg
		case codes.ResourceExhausted:
			o.msg = fmt.Sprintf("mistyped code #%d: %s", i, o.msg)
			return o, ""
		}
	}
	return w.residentVerdict(ctx, c, t, t.code), ""
}

// flooder is a running flood and its outcomes by code.
type flooder struct {
	mu   sync.Mutex
	by   map[codes.Code]int
	halt context.CancelFunc
	wg   sync.WaitGroup
}

func (w *world) startFlood(ctx context.Context) *flooder {
	fctx, cancel := context.WithCancel(ctx)
	f := &flooder{by: map[codes.Code]int{}, halt: cancel}
	nowhere := &ticket{id: ids.New(), number: "a ticket that does not exist"}
	for i := 0; i < floodWorkers; i++ {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			for n := 0; fctx.Err() == nil; n++ {
				o := w.residentVerdict(fctx, w.c, nowhere, fmt.Sprintf("FLOOD%03d", n%1000))
				if fctx.Err() != nil {
					return
				}
				f.mu.Lock()
				f.by[o.code]++
				f.mu.Unlock()
			}
		}()
	}
	return f
}

func (f *flooder) counts() map[codes.Code]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.by)
}

// stop ends the flood and returns its outcomes.
func (f *flooder) stop() map[codes.Code]int {
	f.halt()
	f.wg.Wait()
	return f.counts()
}

func countsOf(by map[codes.Code]int) string {
	var parts []string
	for c, n := range by {
		parts = append(parts, fmt.Sprintf("%d %s", n, c))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
