package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
)

// The places of the sample catalog (deploy/seed/catalog.yaml) the suite
// plays in: community A, where most tickets are reported, community B in
// another district, and places elsewhere (yq) that hold no ticket at all.
const (
	city       = "hh"
	districtA  = "xc"
	streetA    = "xc-hd"
	communityA = "xc-hd-dj"
	gridA      = "xc-hd-dj-g01"
	neighbourA = "xc-hd-wy" // another community of street A
	communityB = "hn-bt-lq"
	gridB      = "hn-bt-lq-g01"
	ghost      = "ghost" // in no catalog

	reporterName  = "王小明"
	reporterPhone = "13812345678"
)

// ticket is one ticket the suite set up, and what it learnt of it.
type ticket struct {
	name, grid, category  string
	id, number, code      string
	photo                 string // reported with it
	lead                  string
	assists               []string
	returnedBy, triagedAt string
}

// stage is how far a plan takes its ticket.
type stage int

const (
	toTriage     stage = iota // waits in triage at its street
	toDispatched              // in the lead department's inbox
	toAccepted                // accepted by it
	toExtension               // accepted, with an extension request pending at the street
	toResolved                // resolved: its evaluation round is open
	toReturned                // returned by its first department, accepted and worked on by the next
)

var stageStatus = map[stage]whistlev1.TicketStatus{
	toTriage: whistlev1.TicketStatus_TICKET_STATUS_TRIAGE, toDispatched: whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED,
	toAccepted: whistlev1.TicketStatus_TICKET_STATUS_ACCEPTED, toExtension: whistlev1.TicketStatus_TICKET_STATUS_ACCEPTED,
	toResolved: whistlev1.TicketStatus_TICKET_STATUS_RESOLVED, toReturned: whistlev1.TicketStatus_TICKET_STATUS_ACCEPTED,
}

// plan says how to set a ticket up: where, what, how far, and the department
// the sample catalog routes it to (checked, so that a changed catalog fails
// loudly here rather than confusingly later).
type plan struct {
	name, grid, category, wantLead string
	until                          stage
}

// fixture is the state the checks play against.
type fixture struct {
	byName map[string]*ticket
	all    []*ticket
}

func (f *fixture) t(name string) *ticket {
	t, ok := f.byName[name]
	if !ok {
		panic("no fixture ticket " + name) // a programming error in a check
	}
	return t
}

// plans are the tickets every check needs.
func plans() []plan {
	ps := []plan{
		{"matrix", gridA, "water_leak", "xc-water", toResolved},    // refused calls of the table aim here: nothing may change it
		{"matrix-ok", gridA, "water_leak", "xc-water", toResolved}, // calls let through aim here
		{"judge", gridA, "road_damage", "xc-urban", toResolved},    // the table's verdicts
		{"triage", gridA, "adv_off_catalog", "", toTriage},
		{"accepted", gridA, "water_leak", "xc-water", toAccepted},
		{"extension", gridA, "water_leak", "xc-water", toExtension},
		{"extension-2", gridA, "water_leak", "xc-water", toExtension},
		{"accepted-2", gridA, "water_leak", "xc-water", toAccepted},
		{"accepted-3", gridA, "water_leak", "xc-water", toAccepted},
		{"returned", gridA, "drain_blocked", "xc-water", toReturned},
		{"bad-verdict", gridA, "road_damage", "xc-urban", toResolved},
		{"b-resolved", gridB, "water_leak", "hn-water", toResolved},
		{"b-accepted", gridB, "street_light_out", "hn-urban", toAccepted},
	}
	for _, name := range verdictTickets {
		ps = append(ps, plan{name, gridA, "road_damage", "xc-urban", toResolved})
	}
	for _, name := range rateTickets {
		ps = append(ps, plan{name, gridA, "road_damage", "xc-urban", toResolved})
	}
	return ps
}

// setUp reports every planned ticket and takes it as far as planned, several
// at a time, through the API as the principals who would act.
func (w *world) setUp(ctx context.Context, runID string) error {
	ps := plans()
	f := &fixture{byName: map[string]*ticket{}}
	var done atomic.Int32
	stop := w.ticker(ctx, func() { progress(w.out, "setup: %d of %d tickets ready", done.Load(), len(ps)) })
	defer stop()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		slots    = make(chan struct{}, 6)
	)
	for _, p := range ps {
		t := &ticket{name: p.name, grid: p.grid, category: p.category}
		f.byName[p.name], f.all = t, append(f.all, t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			if err := w.setUpOne(ctx, runID, p, t); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("set up ticket %q (%s at %s): %w", p.name, p.category, p.grid, err)
				}
				mu.Unlock()
				return
			}
			done.Add(1)
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	w.fx = f
	for _, t := range f.all {
		w.secrets = append(w.secrets, t.id, t.number)
	}
	return nil
}

func (w *world) setUpOne(ctx context.Context, runID string, p plan, t *ticket) error {
	if err := w.report(ctx, runID, t); err != nil {
		return err
	}
	if err := w.awaitRouted(ctx, t, p.until == toTriage); err != nil {
		return err
	}
	if p.wantLead != t.lead {
		return fmt.Errorf("routed to %q, the suite expects %q by the sample catalog (deploy/seed/catalog.yaml); "+
			"if the catalog changed, update plans() in cmd/internal/adversarial/fixture.go", t.lead, p.wantLead)
	}
	steps := map[stage][]func(context.Context, *ticket) error{
		toTriage:     nil,
		toDispatched: {w.awaitInbox},
		toAccepted:   {w.awaitInbox, w.accept},
		toExtension:  {w.awaitInbox, w.accept, w.awaitAcceptedInDispatch, w.requestExtension},
		toResolved:   {w.awaitInbox, w.accept, w.resolve, w.awaitOpenRound},
		toReturned:   {w.awaitInbox, w.returnAndRework},
	}[p.until]
	for _, step := range steps {
		if err := step(ctx, t); err != nil {
			return err
		}
	}
	return w.awaitTimeline(ctx, t, stageStatus[p.until])
}

func (w *world) report(ctx context.Context, runID string, t *ticket) error {
	as := w.as(ctx, "setup", auth.RoleReporter, t.grid)
	photo, err := loop.UploadJPEG(as, w.c, &whistlev1.Actor{Id: "adv-setup", OrgUnitId: t.grid})
	if err != nil {
		return fmt.Errorf("upload the photo of %s: %w", t.name, err)
	}
	resp, err := w.c.Intake.Report(as, &whistlev1.ReportRequest{
		IdempotencyKey: "adv-" + runID + "-" + t.name, Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY,
		Source: whistlev1.Source_SOURCE_RESIDENT, Category: t.category, Description: "adversarial suite: " + t.name,
		Location: &whistlev1.Location{GridId: t.grid}, PhotoIds: []string{photo},
		Reporter: &whistlev1.Reporter{OrgUnitId: t.grid, Name: reporterName, Phone: reporterPhone}})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	t.id, t.number, t.code, t.photo = resp.GetTicket().GetId(), resp.GetTicket().GetNumber(), resp.GetEvaluationCode(), photo
	if t.code == "" {
		return fmt.Errorf("report: no evaluation_code in the answer (the verdict checks need the resident's code)")
	}
	return nil
}

// awaitRouted waits until dispatch has routed the ticket (or put it in triage).
func (w *world) awaitRouted(ctx context.Context, t *ticket, triage bool) error {
	return poll(ctx, "dispatch to route "+t.number, 30*time.Second, func(ctx context.Context) (bool, string) {
		resp, err := w.c.Dispatch.GetAssignment(w.admin(ctx), &whistlev1.GetAssignmentRequest{TicketId: t.id})
		a := resp.GetAssignment()
		if err != nil {
			return false, err.Error()
		}
		t.lead, t.assists, t.triagedAt = a.GetLeadDepartmentId(), a.GetAssistingDepartmentIds(), a.GetTriageOrgUnitId()
		if triage {
			return t.triagedAt != "", fmt.Sprintf("status %s, triage at %q", a.GetStatus(), t.triagedAt)
		}
		return t.lead != "" && a.GetStatus() == whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED,
			fmt.Sprintf("status %s, lead %q", a.GetStatus(), t.lead)
	})
}

func (w *world) awaitInbox(ctx context.Context, t *ticket) error {
	return poll(ctx, "the inbox of "+t.lead+" to hold "+t.number, 30*time.Second, func(ctx context.Context) (bool, string) {
		resp, err := w.c.Response.GetInboxItem(w.as(ctx, "setup", auth.RoleDepartmentHandler, t.lead),
			&whistlev1.GetInboxItemRequest{TicketId: t.id})
		if err != nil {
			return false, err.Error()
		}
		return resp.GetItem().GetStatus() == whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED, "item " + resp.GetItem().GetStatus().String()
	})
}

func (w *world) accept(ctx context.Context, t *ticket) error {
	_, err := w.c.Response.Accept(w.as(ctx, "setup", auth.RoleDepartmentHandler, t.lead),
		&whistlev1.AcceptRequest{TicketId: t.id, Actor: &whistlev1.Actor{Id: "adv-setup", OrgUnitId: t.lead}})
	return wrap("accept", err)
}

func (w *world) resolve(ctx context.Context, t *ticket) error {
	_, err := w.c.Response.Resolve(w.as(ctx, "setup", auth.RoleDepartmentHandler, t.lead), &whistlev1.ResolveRequest{
		TicketId: t.id, Actor: &whistlev1.Actor{Id: "adv-setup", OrgUnitId: t.lead}, Result: "fixed",
		MissingAssistsReason: "fixed without help"})
	return wrap("resolve", err)
}

func (w *world) awaitOpenRound(ctx context.Context, t *ticket) error {
	return poll(ctx, "the evaluation round of "+t.number+" to open", 30*time.Second, func(ctx context.Context) (bool, string) {
		resp, err := w.c.Evaluation.GetEvaluation(w.admin(ctx), &whistlev1.GetEvaluationRequest{TicketId: t.id})
		if err != nil {
			return false, err.Error()
		}
		return resp.GetEvaluation().GetState() == whistlev1.EvaluationState_EVALUATION_STATE_OPEN, resp.GetEvaluation().GetState().String()
	})
}

// awaitAcceptedInDispatch waits until dispatch knows the ticket accepted:
// dispatch drops a request for more time that reaches it before the
// acceptance does (its consumers run per event type), so the request waits.
func (w *world) awaitAcceptedInDispatch(ctx context.Context, t *ticket) error {
	return poll(ctx, "dispatch to see "+t.number+" accepted", 30*time.Second, func(ctx context.Context) (bool, string) {
		resp, err := w.c.Dispatch.GetAssignment(w.admin(ctx), &whistlev1.GetAssignmentRequest{TicketId: t.id})
		if err != nil {
			return false, err.Error()
		}
		return resp.GetAssignment().GetStatus() == whistlev1.TicketStatus_TICKET_STATUS_ACCEPTED, resp.GetAssignment().GetStatus().String()
	})
}

func (w *world) requestExtension(ctx context.Context, t *ticket) error {
	_, err := w.c.Response.RequestExtension(w.as(ctx, "setup", auth.RoleDepartmentHandler, t.lead), &whistlev1.RequestExtensionRequest{
		TicketId: t.id, Actor: &whistlev1.Actor{Id: "adv-setup", OrgUnitId: t.lead}, Reason: "parts on order",
		RequestedResolveDue: ts(time.Now().Add(10 * 24 * time.Hour))})
	if err != nil {
		return wrap("request an extension", err)
	}
	return poll(ctx, "dispatch to see the extension request of "+t.number, 30*time.Second, func(ctx context.Context) (bool, string) {
		resp, err := w.c.Dispatch.GetAssignment(w.admin(ctx), &whistlev1.GetAssignmentRequest{TicketId: t.id})
		if err != nil {
			return false, err.Error()
		}
		return resp.GetAssignment().GetExtensionRequestedDue() != nil, "no extension request yet"
	})
}

// returnAndRework has the first department return the ticket, waits for
// dispatch to send it on, and has the next department accept it and add
// progress: history the first department must not see.
func (w *world) returnAndRework(ctx context.Context, t *ticket) error {
	first := t.lead
	_, err := w.c.Response.Return(w.as(ctx, "setup", auth.RoleDepartmentHandler, first), &whistlev1.ReturnRequest{
		TicketId: t.id, ReasonCode: whistlev1.ReturnReason_RETURN_REASON_NOT_OUR_JURISDICTION, Note: "not ours",
		Actor: &whistlev1.Actor{Id: "adv-setup", OrgUnitId: first}})
	if err != nil {
		return wrap("return", err)
	}
	t.returnedBy = first
	err = poll(ctx, "dispatch to send "+t.number+" on after its return", 30*time.Second, func(ctx context.Context) (bool, string) {
		resp, err := w.c.Dispatch.GetAssignment(w.admin(ctx), &whistlev1.GetAssignmentRequest{TicketId: t.id})
		if err != nil {
			return false, err.Error()
		}
		a := resp.GetAssignment()
		t.lead = a.GetLeadDepartmentId()
		return t.lead != first && a.GetStatus() == whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED,
			fmt.Sprintf("status %s, lead %q", a.GetStatus(), t.lead)
	})
	if err != nil {
		return err
	}
	for _, step := range []func(context.Context, *ticket) error{w.awaitInbox, w.accept} {
		if err := step(ctx, t); err != nil {
			return err
		}
	}
	_, err = w.c.Response.AddProgress(w.as(ctx, "setup", auth.RoleDepartmentHandler, t.lead), &whistlev1.AddProgressRequest{
		TicketId: t.id, Note: "digging started", Actor: &whistlev1.Actor{Id: "adv-setup", OrgUnitId: t.lead}})
	return wrap("add progress", err)
}

// awaitTimeline waits until monitoring shows the ticket in status.
func (w *world) awaitTimeline(ctx context.Context, t *ticket, status whistlev1.TicketStatus) error {
	return poll(ctx, "monitoring to show "+t.number+" "+status.String(), 30*time.Second, func(ctx context.Context) (bool, string) {
		resp, err := w.c.Monitoring.GetTimeline(w.admin(ctx), &whistlev1.GetTimelineRequest{TicketId: t.id})
		if err != nil {
			return false, err.Error()
		}
		return resp.GetState().GetStatus() == status, resp.GetState().GetStatus().String()
	})
}

// poll tries every 20 ms until try says done, at most timeout; on timeout
// the error names what it waited for and the last state seen.
func poll(ctx context.Context, what string, timeout time.Duration, try func(context.Context) (bool, string)) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	last := "nothing yet"
	for {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		done, state := try(cctx)
		cancel()
		if done {
			return nil
		}
		last = state
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s; last seen: %s (see whistle dev's log)", timeout, what, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w; last seen: %s", what, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// ticker calls fn every 3 s until the returned stop is called.
func (w *world) ticker(ctx context.Context, fn func()) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(3 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				fn()
			}
		}
	}()
	return cancel
}

func wrap(what string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
