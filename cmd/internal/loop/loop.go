// Package loop drives tickets through the whole whistle loop over the public
// gRPC APIs, acting as reporter, department and evaluator in turn: report,
// wait for the inbox, accept, resolve, evaluate (unsatisfied once for a share
// of them, then satisfied after the rework), and wait until monitoring shows
// the ticket closed. `whistlectl smoke` and the end-to-end tests use it.
package loop

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// Clients are the five APIs, the audit log, the dead letters, the webhooks and the Open311 keys.
type Clients struct {
	Intake     whistlev1.IntakeServiceClient
	Dispatch   whistlev1.DispatchServiceClient
	Response   whistlev1.ResponseServiceClient
	Evaluation whistlev1.EvaluationServiceClient
	Monitoring whistlev1.MonitoringServiceClient
	Audit      whistlev1.AuditServiceClient
	// DeadLetters lists, replays and discards the events consumers gave up on.
	DeadLetters whistlev1.DeadLetterServiceClient
	// Webhooks keeps the webhook subscriptions.
	Webhooks whistlev1.WebhookServiceClient
	// Open311 keeps the API keys of the systems that report through the Open311 gateway.
	Open311 whistlev1.Open311KeyServiceClient
}

// NewClients returns clients for the five APIs, the audit log, the dead letters, the webhooks and the Open311 keys on one connection.
func NewClients(conn grpc.ClientConnInterface) Clients {
	return Clients{
		Intake:      whistlev1.NewIntakeServiceClient(conn),
		Dispatch:    whistlev1.NewDispatchServiceClient(conn),
		Response:    whistlev1.NewResponseServiceClient(conn),
		Evaluation:  whistlev1.NewEvaluationServiceClient(conn),
		Monitoring:  whistlev1.NewMonitoringServiceClient(conn),
		Audit:       whistlev1.NewAuditServiceClient(conn),
		DeadLetters: whistlev1.NewDeadLetterServiceClient(conn),
		Webhooks:    whistlev1.NewWebhookServiceClient(conn),
		Open311:     whistlev1.NewOpen311KeyServiceClient(conn),
	}
}

// Options shape a run.
type Options struct {
	// Tickets to push through the loop.
	Tickets int
	// Concurrency is how many tickets are in flight at once. Default 16.
	Concurrency int
	// Unsatisfied is the share of tickets judged unsatisfied once (then
	// satisfied after the rework), from 0 to 1.
	Unsatisfied float64
	// Synthetic marks the tickets as test traffic, kept out of official figures.
	Synthetic bool
	// Timeout bounds the whole run; tickets not closed by then are stuck. Default 2 min.
	Timeout time.Duration
	// Progress receives a progress line every Every (nil: none).
	Progress io.Writer
	// Every is the progress interval. Default 1 s.
	Every time.Duration
	// RunID makes the idempotency keys of this run unique. Default: the time.
	RunID string
	// Seed makes the choice of matters, grids and verdicts repeatable.
	Seed uint64
	// As returns ctx carrying the credentials of a principal with the role
	// acting for the org unit (e.g. a token minted for it); the loop acts as
	// reporter, department handler, community officer and city monitor in
	// turn. Default: no credentials (a server without authentication).
	As func(ctx context.Context, role auth.Role, orgUnit string) context.Context
	// City is the root org unit, for the city monitor's reads. Required with As.
	City string
	// Rate starts at most this many tickets a second (a steady load); 0
	// starts them as fast as Concurrency allows.
	Rate float64
	// Retry makes every call ride out faults: a call that fails because a
	// service, the database or the broker is down (Unavailable, deadline,
	// ResourceExhausted, Aborted) is tried again until Timeout. Mutating
	// calls carry request ids, so a retry of a call that did take effect
	// returns its first answer instead of acting twice.
	Retry bool
	// OnClosed, when set, hears of each ticket seen closed.
	OnClosed func(ticketID string)
}

// Result is what happened.
type Result struct {
	Reported, Closed, Stuck int
	// TicketIDs of every reported ticket, in report order.
	TicketIDs []string
	// Reopened lists the tickets judged unsatisfied once.
	Reopened map[string]bool
	// Took is the run's duration.
	Took time.Duration
	// Failures holds the first errors met, at most 10.
	Failures []error
}

// Summary is the closing line: "smoke: N reported, C closed, S stuck".
func (r Result) Summary() string {
	return fmt.Sprintf("smoke: %d reported, %d closed, %d stuck", r.Reported, r.Closed, r.Stuck)
}

type counters struct {
	reported, accepted, resolved, evaluated, reopened, closed atomic.Int64
}

// Run pushes o.Tickets tickets through the loop and reports what happened.
// It returns an error only if it cannot start (no catalog to draw from).
func Run(ctx context.Context, c Clients, o Options) (Result, error) {
	o.defaults()
	start := time.Now()
	if o.As != nil && o.City == "" {
		return Result{}, fmt.Errorf("loop: As needs City, the root org unit")
	}
	var cat *whistlev1.GetCatalogResponse
	starter := &driver{o: o}
	err := starter.call(o.as(ctx, auth.RoleMonitor, o.City), func(ctx context.Context) (err error) {
		cat, err = c.Dispatch.GetCatalog(ctx, &whistlev1.GetCatalogRequest{})
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("read the catalog to draw tickets from: %w", err)
	}
	plan := newPlan(cat, o)
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	d := &driver{c: c, o: o, res: Result{TicketIDs: make([]string, o.Tickets), Reopened: map[string]bool{}}}
	stopProgress := d.progress(ctx)
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < o.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				d.ticket(ctx, i, plan[i])
			}
		}()
	}
	var pace *time.Ticker
	if o.Rate > 0 {
		pace = time.NewTicker(time.Duration(float64(time.Second) / o.Rate))
		defer pace.Stop()
	}
	for i := 0; i < o.Tickets; i++ {
		if pace != nil {
			select {
			case <-pace.C:
			case <-ctx.Done():
			}
		}
		work <- i
	}
	close(work)
	wg.Wait()
	stopProgress()
	d.res.Reported, d.res.Closed = int(d.n.reported.Load()), int(d.n.closed.Load())
	d.res.Stuck = d.res.Reported - d.res.Closed
	d.res.Took = time.Since(start)
	return d.res, nil
}

func (o *Options) defaults() {
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Every <= 0 {
		o.Every = time.Second
	}
	if o.RunID == "" {
		o.RunID = time.Now().UTC().Format("20060102T150405.000000")
	}
}

// as returns ctx with the credentials of a principal, when the run has any.
func (o *Options) as(ctx context.Context, role auth.Role, orgUnit string) context.Context {
	if o.As == nil {
		return ctx
	}
	return o.As(ctx, role, orgUnit)
}

// step is one ticket's plan.
type step struct {
	category, grid string
	unsatisfied    bool
}

// newPlan draws each ticket's matter, grid and verdict from the catalog.
func newPlan(cat *whistlev1.GetCatalogResponse, o Options) []step {
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x5eed))
	var grids []string
	for _, u := range cat.GetOrgUnits() {
		if u.GetLevel() == whistlev1.OrgLevel_ORG_LEVEL_GRID {
			grids = append(grids, u.GetId())
		}
	}
	var matters []*whistlev1.MatterType
	for _, m := range cat.GetMatters() {
		if !m.GetTriage() { // those wait for a person, who is not part of the loop
			matters = append(matters, m)
		}
	}
	plan := make([]step, o.Tickets)
	for i := range plan {
		m := matters[rng.IntN(len(matters))]
		plan[i] = step{category: m.GetCode(), grid: grids[rng.IntN(len(grids))], unsatisfied: rng.Float64() < o.Unsatisfied}
	}
	return plan
}

type driver struct {
	c   Clients
	o   Options
	n   counters
	mu  sync.Mutex
	res Result
}

func (d *driver) fail(id string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.res.Failures) < 10 {
		d.res.Failures = append(d.res.Failures, fmt.Errorf("ticket %s: %w", id, err))
	}
}

func (d *driver) progress(ctx context.Context) (stop func()) {
	if d.o.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(d.o.Every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				fmt.Fprintf(d.o.Progress, "smoke: %d/%d reported, %d accepted, %d resolved, %d evaluated (%d reopened), %d closed\n",
					d.n.reported.Load(), d.o.Tickets, d.n.accepted.Load(), d.n.resolved.Load(), d.n.evaluated.Load(),
					d.n.reopened.Load(), d.n.closed.Load())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// ticket drives one ticket through the loop.
func (d *driver) ticket(ctx context.Context, i int, s step) {
	var resp *whistlev1.ReportResponse
	err := d.call(ctx, func(ctx context.Context) (err error) {
		resp, err = d.c.Intake.Report(d.o.as(ctx, auth.RoleReporter, s.grid), &whistlev1.ReportRequest{
			IdempotencyKey: fmt.Sprintf("smoke-%s-%d", d.o.RunID, i),
			Kind:           whistlev1.WhistleKind_WHISTLE_KIND_DAILY,
			Source:         whistlev1.Source_SOURCE_GRID_PATROL,
			Category:       s.category,
			Title:          "Smoke test " + s.category,
			Description:    fmt.Sprintf("Synthetic whistle %d of run %s", i, d.o.RunID),
			Location:       &whistlev1.Location{GridId: s.grid},
			Reporter:       &whistlev1.Reporter{OrgUnitId: s.grid, Name: "smoke"},
			Synthetic:      d.o.Synthetic,
		})
		return err
	})
	if err != nil {
		d.fail(fmt.Sprint("#", i), fmt.Errorf("report: %w", err))
		return
	}
	id := resp.GetTicket().GetId()
	d.mu.Lock()
	d.res.TicketIDs[i] = id
	if s.unsatisfied {
		d.res.Reopened[id] = true
	}
	d.mu.Unlock()
	d.n.reported.Add(1)
	if err := d.handle(ctx, id, s.grid, s.unsatisfied); err != nil {
		d.fail(id, err)
		return
	}
	d.n.closed.Add(1)
	if d.o.OnClosed != nil {
		d.o.OnClosed(id)
	}
}

// handle acts as lead department, assisting departments and evaluator until
// the ticket is closed. Each mutating call names a request id of its own, so
// that a retry never acts twice.
func (d *driver) handle(ctx context.Context, id, community string, unsatisfied bool) error {
	lead, err := d.waitDispatched(ctx, id)
	if err != nil {
		return err
	}
	handler := d.o.as(ctx, auth.RoleDepartmentHandler, lead)
	item, err := d.waitItem(handler, id, whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED)
	if err != nil {
		return err
	}
	dept := &whistlev1.Actor{Id: "smoke-handler", OrgUnitId: item.GetDepartmentId(), DisplayName: "smoke"}
	if err := d.call(handler, func(ctx context.Context) error {
		_, err := d.c.Response.Accept(ctx, &whistlev1.AcceptRequest{TicketId: id, Actor: dept, RequestId: id + "-accept"})
		return err
	}); err != nil {
		return fmt.Errorf("accept: %w", err)
	}
	d.n.accepted.Add(1)
	for _, a := range item.GetAssists() { // joint handling: each assisting department does its part
		helper := &whistlev1.Actor{Id: "smoke-helper", OrgUnitId: a.GetDepartmentId(), DisplayName: "smoke"}
		if err := d.call(d.o.as(ctx, auth.RoleDepartmentHandler, a.GetDepartmentId()), func(ctx context.Context) error {
			_, err := d.c.Response.ReportAssist(ctx, &whistlev1.ReportAssistRequest{TicketId: id, Actor: helper,
				Note: "assisted", RequestId: id + "-assist"})
			return err
		}); err != nil {
			return fmt.Errorf("report assist of %s: %w", a.GetDepartmentId(), err)
		}
	}
	evaluator := &whistlev1.Actor{Id: "smoke-evaluator", OrgUnitId: community, DisplayName: "smoke"}
	judge := d.o.as(ctx, auth.RoleCommunityOfficer, community)
	for round := int32(1); ; round++ {
		if err := d.call(handler, func(ctx context.Context) error {
			_, err := d.c.Response.Resolve(ctx, &whistlev1.ResolveRequest{TicketId: id, Actor: dept,
				Result: fmt.Sprintf("Fixed (round %d)", round), RequestId: fmt.Sprintf("%s-resolve-%d", id, round)})
			return err
		}); err != nil {
			return fmt.Errorf("resolve: %w", err)
		}
		d.n.resolved.Add(1)
		if err := d.waitEvaluation(judge, id, round); err != nil {
			return err
		}
		verdict := whistlev1.Verdict_VERDICT_SATISFIED
		if unsatisfied && round == 1 {
			verdict = whistlev1.Verdict_VERDICT_UNSATISFIED
		}
		if err := d.call(judge, func(ctx context.Context) error {
			_, err := d.c.Evaluation.Evaluate(ctx, &whistlev1.EvaluateRequest{TicketId: id, Verdict: verdict,
				ReasonCodes: reasons(verdict), Evaluator: evaluator, RequestId: fmt.Sprintf("%s-evaluate-%d", id, round)})
			return err
		}); err != nil {
			return fmt.Errorf("evaluate: %w", err)
		}
		d.n.evaluated.Add(1)
		if verdict != whistlev1.Verdict_VERDICT_UNSATISFIED {
			break
		}
		d.n.reopened.Add(1)
		if _, err := d.waitItem(handler, id, whistlev1.TicketStatus_TICKET_STATUS_REOPENED); err != nil {
			return err
		}
	}
	return d.waitClosed(d.o.as(ctx, auth.RoleMonitor, d.o.City), id)
}

// call makes one call; with Retry, it tries again while the failure is
// one that a restarted service, database or broker will cure.
func (d *driver) call(ctx context.Context, fn func(ctx context.Context) error) error {
	delay := 50 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := fn(cctx)
		cancel()
		if err == nil || !d.o.Retry || !transient(err) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(delay*2, time.Second)
	}
}

// transient reports whether a failure may pass by itself.
func transient(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		return true
	}
	return false
}

func reasons(v whistlev1.Verdict) []string {
	if v == whistlev1.Verdict_VERDICT_UNSATISFIED {
		return []string{"not_fixed"}
	}
	return nil
}

// waitDispatched waits, as the city's monitor, until dispatch has assigned
// the ticket, and returns its lead department.
func (d *driver) waitDispatched(ctx context.Context, id string) (string, error) {
	ctx = d.o.as(ctx, auth.RoleMonitor, d.o.City)
	var lead string
	err := d.poll(ctx, "dispatch to assign it", func() (bool, error) {
		resp, err := d.c.Dispatch.GetAssignment(ctx, &whistlev1.GetAssignmentRequest{TicketId: id})
		if status.Code(err) == codes.NotFound {
			return false, nil
		}
		lead = resp.GetAssignment().GetLeadDepartmentId()
		return err == nil && lead != "", err
	})
	return lead, err
}

func (d *driver) waitItem(ctx context.Context, id string, want whistlev1.TicketStatus) (*whistlev1.InboxItem, error) {
	var item *whistlev1.InboxItem
	err := d.poll(ctx, fmt.Sprintf("the inbox to show it %s", want), func() (bool, error) {
		resp, err := d.c.Response.GetInboxItem(ctx, &whistlev1.GetInboxItemRequest{TicketId: id})
		if status.Code(err) == codes.NotFound {
			return false, nil
		}
		item = resp.GetItem()
		return err == nil && item.GetStatus() == want, err
	})
	return item, err
}

func (d *driver) waitEvaluation(ctx context.Context, id string, round int32) error {
	return d.poll(ctx, fmt.Sprintf("evaluation round %d to open", round), func() (bool, error) {
		resp, err := d.c.Evaluation.GetEvaluation(ctx, &whistlev1.GetEvaluationRequest{TicketId: id})
		if status.Code(err) == codes.NotFound {
			return false, nil
		}
		e := resp.GetEvaluation()
		return err == nil && e.GetRound() == round && e.GetState() == whistlev1.EvaluationState_EVALUATION_STATE_OPEN, err
	})
}

func (d *driver) waitClosed(ctx context.Context, id string) error {
	return d.poll(ctx, "monitoring to show it closed", func() (bool, error) {
		resp, err := d.c.Monitoring.GetTimeline(ctx, &whistlev1.GetTimelineRequest{TicketId: id})
		if status.Code(err) == codes.NotFound {
			return false, nil
		}
		return err == nil && resp.GetState().GetStatus() == whistlev1.TicketStatus_TICKET_STATUS_CLOSED, err
	})
}

// poll calls cond until it is true, it fails, or ctx ends, waiting a little
// longer each time (10 ms up to 200 ms).
func (d *driver) poll(ctx context.Context, what string, cond func() (bool, error)) error {
	delay := 10 * time.Millisecond
	for {
		ok, err := cond()
		if err != nil && !(d.o.Retry && transient(err)) {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up waiting for %s: %w", what, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(delay*2, 200*time.Millisecond)
	}
}
