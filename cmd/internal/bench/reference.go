package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The reference floors are two fixed workloads run on the same servers as
// the loop, in the same run, so that the loop's throughput can be put over
// what the same PostgreSQL and JetStream do with no business logic at all:
// a ticket is ReferenceSteps steps, one after another, and a step is one
// row committed, one message published and acknowledged by JetStream, and
// that message consumed by a durable consumer that records it in an inbox
// table in a commit of its own. "naive" does each step on its own;
// "batched" group-commits the steps that are waiting at the same time.
// Unlike the floor (floor.go), their work does not depend on the loop's.
// See docs/performance.md, "Reference floors".
const (
	// ReferenceSteps is the steps of a reference floor's ticket.
	ReferenceSteps = 6
	// RefNaive and RefBatched name the reference floors.
	RefNaive   = "naive"
	RefBatched = "batched"
	// NaiveInFlight and BatchedInFlight are each floor's tickets in flight
	// (a closed model: a ticket done, the next starts).
	NaiveInFlight   = 64
	BatchedInFlight = 256
	// StepBatchMax is the most steps the batched floor commits and publishes
	// together; InboxBatchMax the most messages its consumer fetches and
	// records together.
	StepBatchMax  = 512
	InboxBatchMax = 512
	// inboxFetchWait bounds one fetch of the batched consumer when the
	// stream is idle (a busy stream fills the fetch first).
	inboxFetchWait = time.Second
)

// ReferenceFloors are the reference floors in the order a run runs them.
var ReferenceFloors = []string{RefNaive, RefBatched}

// The reference floors' stages, as the report names them.
const (
	RefStageCommit  = "step commit (asked → committed)"
	RefStagePublish = "publish (until acked)"
	RefStageConsume = "published → consumed"
	RefStageStep    = "step (start → consumed)"
	RefStageTicket  = "ticket (start → done)"
)

// referenceDoes says what each reference floor does, for the report.
var referenceDoes = map[string]string{
	RefNaive: fmt.Sprintf("%d steps per ticket, one after another, each on its own: a one-row INSERT in its own transaction, "+
		"a JetStream publish waited for until acked, and a durable consumer per step (one message at a time) "+
		"recording it in the inbox in its own commit; %d tickets in flight", ReferenceSteps, NaiveInFlight),
	RefBatched: fmt.Sprintf("%d steps per ticket, one after another, group-committed: a batcher takes every step waiting "+
		"(up to %d, no wait when idle) into one INSERT … SELECT FROM unnest, publishes the batch async and waits for all "+
		"acks; one durable consumer fetches up to %d and records them with one INSERT … SELECT unnest … ON CONFLICT DO NOTHING "+
		"in one commit, then acks; %d tickets in flight", ReferenceSteps, StepBatchMax, InboxBatchMax, BatchedInFlight),
}

// ReferenceFloorReport is one reference floor's run.
type ReferenceFloorReport struct {
	Name           string  `json:"name"`
	Does           string  `json:"does"`
	StepsPerTicket int     `json:"steps_per_ticket"`
	InFlight       int     `json:"in_flight"`
	WindowSeconds  float64 `json:"window_seconds"`
	DrainedSeconds float64 `json:"drained_seconds"`
	// Started tickets; Done (every step consumed) and DoneInWindow by the
	// window's end; Stuck not done when the drain ended.
	Started          int     `json:"started"`
	Done             int     `json:"done"`
	DoneInWindow     int     `json:"done_in_window"`
	Stuck            int     `json:"stuck"`
	TicketsPerSecond float64 `json:"tickets_per_second"`
	Stages           []Stage `json:"stages"`
	// Batches are the batched floor's group sizes (the steps of each
	// commit, the messages of each inbox commit).
	Batches   []BatchSizes    `json:"batches,omitempty"`
	Errors    []ErrorRow      `json:"errors"`
	Processes []ProcessReport `json:"processes"`
	// CPUMsPerTicket is each measured process's CPU time over the run, in
	// milliseconds per done ticket, by process name.
	CPUMsPerTicket map[string]float64 `json:"cpu_ms_per_ticket"`
	Stream         string             `json:"stream"`
	StreamStorage  string             `json:"stream_storage"`
}

// Stage returns the stage named name, and whether there is one.
func (r *ReferenceFloorReport) Stage(name string) (Stage, bool) { return findStage(r.Stages, name) }

// BatchSizes is how big a floor's groups were.
type BatchSizes struct {
	What    string  `json:"what"`
	Batches int     `json:"batches"`
	Mean    float64 `json:"mean"`
	Max     int     `json:"max"`
}

// batchCount counts groups and their sizes.
type batchCount struct {
	n, sum, max atomic.Int64
}

func (b *batchCount) add(size int) {
	b.n.Add(1)
	b.sum.Add(int64(size))
	for {
		old := b.max.Load()
		if int64(size) <= old || b.max.CompareAndSwap(old, int64(size)) {
			return
		}
	}
}

func (b *batchCount) sizes(what string) BatchSizes {
	s := BatchSizes{What: what, Batches: int(b.n.Load()), Max: int(b.max.Load())}
	if s.Batches > 0 {
		s.Mean = float64(b.sum.Load()) / float64(s.Batches)
	}
	return s
}

// refRun is one run of a reference floor.
type refRun struct {
	o        Options
	name     string
	inFlight int
	pool     *pgxpool.Pool
	js       jetstream.JetStream
	key      string // prefixes the tickets' ids: "<run id>-<floor>-"
	subjects string // the floor's subjects: <prefix>.<floor>
	errs     Errors

	commit, publish, consume, step, whole Samples
	stepBatches, inboxBatches             batchCount

	mu      sync.Mutex
	waiting map[string]chan struct{} // by message id, closed once consumed

	queue chan *refStep // the batched floor's steps waiting for the batcher
	bg    sync.WaitGroup

	done, doneInWindow atomic.Int64
	windowEnd          time.Time
	epoch              time.Time // the run's start, for refStep.published
}

// refStep is a step of the batched floor, asked of the batcher.
type refStep struct {
	id, ticket string
	n          int
	asked      time.Time
	failed     chan struct{} // closed when its batch failed
	// published is when the batcher published it, since the run's epoch
	// (set by the batcher, read by the ticket once consumed).
	published atomic.Int64
}

// RunReferenceFloor runs the reference floor named name (RefNaive or
// RefBatched) on the deployment's PostgreSQL and JetStream for
// o.FloorDuration, then drops its tables and stream (unless fo.Keep).
func RunReferenceFloor(ctx context.Context, d *Deployment, o Options, name string, fo FloorOptions) (*ReferenceFloorReport, error) {
	o.defaults()
	if d.DatabaseURL == "" || (d.NATSURL == "" && len(d.NATSOptions) == 0) {
		return nil, errors.New("the reference floors need the deployment's PostgreSQL and NATS: pass --database-url and --nats-url " +
			"(a `whistle dev` writes both to <data>/endpoints.json), or --no-floor")
	}
	r := &refRun{o: o, name: name, key: o.RunID + "-" + name + "-", subjects: floorSubjects + "." + name,
		waiting: map[string]chan struct{}{}, epoch: time.Now()}
	switch name {
	case RefNaive:
		r.inFlight = NaiveInFlight
	case RefBatched:
		r.inFlight, r.queue = BatchedInFlight, make(chan *refStep, 2*StepBatchMax)
	default:
		return nil, fmt.Errorf("no reference floor %q (there are %s)", name, strings.Join(ReferenceFloors, ", "))
	}
	bg, stopBG := context.WithCancel(ctx)
	cleanup, rep, err := r.setUp(ctx, bg, d, fo)
	defer cleanup()
	defer func() { stopBG(); r.bg.Wait() }() // before cleanup: nothing writes while the tables go
	if err != nil {
		return nil, err
	}
	return r.run(ctx, d, rep)
}

// setUp makes the tables, the stream and the consumers (running on bg),
// and returns what undoes them.
func (r *refRun) setUp(ctx, bg context.Context, d *Deployment, fo FloorOptions) (func(), *ReferenceFloorReport, error) {
	var undo []func()
	cleanup := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	pool, err := referenceDB(ctx, d.DatabaseURL)
	if err != nil {
		return cleanup, nil, err
	}
	r.pool = pool
	undo = append(undo, func() { dropFloorDB(pool, fo.Keep); pool.Close() })
	nc, err := nats.Connect(d.NATSURL, append([]nats.Option{nats.Name("whistle bench " + r.name + " floor")}, d.NATSOptions...)...)
	if err != nil {
		return cleanup, nil, fmt.Errorf("connect to NATS for the %s floor: %w (check --nats-url)", r.name, err)
	}
	undo = append(undo, nc.Close)
	if r.js, err = jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4*StepBatchMax)); err != nil {
		return cleanup, nil, err
	}
	storage, err := floorStream(ctx, r.js, first(d.Stream, "WHISTLE"), r.subjects+".>")
	if err != nil {
		return cleanup, nil, err
	}
	if !fo.Keep {
		undo = append(undo, func() { _ = r.js.DeleteStream(context.Background(), FloorStream) })
	}
	if r.name == RefNaive {
		stop, err := r.naiveConsumers(bg)
		undo = append(undo, stop)
		if err != nil {
			return cleanup, nil, err
		}
	} else if err := r.batchedConsumer(ctx, bg); err != nil {
		return cleanup, nil, err
	}
	if r.queue != nil {
		r.bg.Add(1)
		go r.batcher(bg)
	}
	return cleanup, &ReferenceFloorReport{Name: r.name, Does: referenceDoes[r.name], StepsPerTicket: ReferenceSteps,
		InFlight: r.inFlight, Stream: FloorStream, StreamStorage: storage}, nil
}

// referenceDB connects and makes the reference floors' tables (anew): the
// steps' rows, and the inbox of the consumed messages.
func referenceDB(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("the floor's PostgreSQL URL: %w (check --database-url)", err)
	}
	cfg.MaxConns = floorPool
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	_, err = pool.Exec(ctx, `DROP SCHEMA IF EXISTS `+FloorSchema+` CASCADE;
		CREATE SCHEMA `+FloorSchema+`;
		CREATE TABLE `+FloorSchema+`.steps (
			id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			ticket text        NOT NULL,
			step   int         NOT NULL,
			at     timestamptz NOT NULL DEFAULT now());
		CREATE TABLE `+FloorSchema+`.inbox (
			msg_id   text PRIMARY KEY,
			ticket   text        NOT NULL,
			step     int         NOT NULL,
			consumer text        NOT NULL,
			at       timestamptz NOT NULL DEFAULT now())`)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("create the reference floors' tables in schema %s: %w (the user must be allowed to create schemas)", FloorSchema, err)
	}
	return pool, nil
}

const (
	insertStep   = `INSERT INTO ` + FloorSchema + `.steps (ticket, step) VALUES ($1, $2)`
	insertSteps  = `INSERT INTO ` + FloorSchema + `.steps (ticket, step) SELECT * FROM unnest($1::text[], $2::int[])`
	insertInbox  = `INSERT INTO ` + FloorSchema + `.inbox (msg_id, ticket, step, consumer) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`
	insertInboxN = `INSERT INTO ` + FloorSchema + `.inbox (msg_id, ticket, step, consumer)
		SELECT m, t, s, $4 FROM unnest($1::text[], $2::text[], $3::int[]) AS u(m, t, s) ON CONFLICT DO NOTHING`
)

// stepID is the message id of a ticket's step n: "<ticket>#<n>".
func stepID(ticket string, n int) string { return ticket + "#" + strconv.Itoa(n) }

// parseStepID splits a message id back into its ticket and step.
func parseStepID(id string) (string, int) {
	ticket, step, _ := strings.Cut(id, "#")
	n, _ := strconv.Atoi(step)
	return ticket, n
}

func (r *refRun) subject(n int) string { return r.subjects + "." + strconv.Itoa(n) }

// expect registers a step's message before it is published; the channel
// is closed once a consumer recorded it.
func (r *refRun) expect(id string) chan struct{} {
	ch := make(chan struct{})
	r.mu.Lock()
	r.waiting[id] = ch
	r.mu.Unlock()
	return ch
}

func (r *refRun) forget(id string) {
	r.mu.Lock()
	delete(r.waiting, id)
	r.mu.Unlock()
}

// consumed tells the steps waiting for these messages.
func (r *refRun) consumed(ids ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if ch := r.waiting[id]; ch != nil {
			close(ch)
			delete(r.waiting, id)
		}
	}
}

// fail counts err against what, unless the run is ending (ctx done).
func (r *refRun) fail(ctx context.Context, what string, err error) {
	if ctx.Err() == nil {
		r.errs.Add(what, err)
	}
}

// ticket runs one ticket's steps, one after another.
func (r *refRun) ticket(ctx context.Context, i int) {
	start := time.Now()
	id := r.key + strconv.Itoa(i)
	for n := range ReferenceSteps {
		ok := false
		if r.name == RefNaive {
			ok = r.naiveStep(ctx, id, n)
		} else {
			ok = r.batchedStep(ctx, id, n)
		}
		if !ok {
			return
		}
	}
	r.whole.Add(time.Since(start))
	r.done.Add(1)
	if !time.Now().After(r.windowEnd) {
		r.doneInWindow.Add(1)
	}
}

// naiveStep commits the step's row on its own, publishes its message and
// waits for the ack, then waits until the step's consumer recorded it.
func (r *refRun) naiveStep(ctx context.Context, ticket string, n int) bool {
	id := stepID(ticket, n)
	consumed := r.expect(id)
	start := time.Now()
	if _, err := r.pool.Exec(ctx, insertStep, ticket, n); err != nil {
		r.fail(ctx, "floor step commit", err)
		r.forget(id)
		return false
	}
	r.commit.Add(time.Since(start))
	published := time.Now()
	msg := &nats.Msg{Subject: r.subject(n), Data: []byte(id)}
	if _, err := r.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id), jetstream.WithExpectStream(FloorStream)); err != nil {
		r.fail(ctx, "floor publish", err)
		r.forget(id)
		return false
	}
	r.publish.Add(time.Since(published))
	select {
	case <-consumed:
		r.consume.Add(time.Since(published))
		r.step.Add(time.Since(start))
		return true
	case <-ctx.Done():
		return false
	}
}

// naiveConsumers start one durable pull consumer per step, each handling
// one message at a time, like the services' consumers.
func (r *refRun) naiveConsumers(bg context.Context) (func(), error) {
	var running []jetstream.ConsumeContext
	stop := func() {
		for _, c := range running {
			c.Stop()
		}
	}
	for n := range ReferenceSteps {
		name := fmt.Sprintf("benchfloor-%s-%d", r.name, n)
		cons, err := r.js.CreateOrUpdateConsumer(bg, FloorStream, jetstream.ConsumerConfig{Durable: name,
			FilterSubject: r.subject(n), AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second,
			DeliverPolicy: jetstream.DeliverAllPolicy, MaxAckPending: 1024})
		if err != nil {
			return stop, fmt.Errorf("create the %s floor's consumer %s: %w", r.name, name, err)
		}
		cc, err := cons.Consume(func(m jetstream.Msg) { r.naiveHandle(bg, name, m) }, jetstream.PullMaxMessages(256))
		if err != nil {
			return stop, fmt.Errorf("start the %s floor's consumer %s: %w", r.name, name, err)
		}
		running = append(running, cc)
	}
	return stop, nil
}

// naiveHandle records one message in the inbox in its own commit, acks it
// and tells its step.
func (r *refRun) naiveHandle(ctx context.Context, consumer string, m jetstream.Msg) {
	id := string(m.Data())
	ticket, n := parseStepID(id)
	if _, err := r.pool.Exec(ctx, insertInbox, id, ticket, n, consumer); err != nil {
		r.fail(ctx, "floor inbox commit", err)
		_ = m.NakWithDelay(100 * time.Millisecond)
		return
	}
	if err := m.Ack(); err != nil {
		r.fail(ctx, "floor ack", err)
	}
	r.consumed(id)
}

// batchedStep asks the batcher for the step and waits until it is consumed.
func (r *refRun) batchedStep(ctx context.Context, ticket string, n int) bool {
	s := &refStep{id: stepID(ticket, n), ticket: ticket, n: n, asked: time.Now(), failed: make(chan struct{})}
	consumed := r.expect(s.id)
	select {
	case r.queue <- s:
	case <-ctx.Done():
		r.forget(s.id)
		return false
	}
	select {
	case <-consumed:
		r.consume.Add(time.Since(r.epoch) - time.Duration(s.published.Load()))
		r.step.Add(time.Since(s.asked))
		return true
	case <-s.failed:
		r.forget(s.id)
		return false
	case <-ctx.Done():
		return false
	}
}

// batcher group-commits: it takes every step waiting (at least one, at most
// StepBatchMax), commits their rows in one statement, publishes their
// messages async and waits for every ack, then takes the next.
func (r *refRun) batcher(ctx context.Context) {
	defer r.bg.Done()
	batch := make([]*refStep, 0, StepBatchMax)
	for {
		batch = batch[:0]
		select {
		case s := <-r.queue:
			batch = append(batch, s)
		case <-ctx.Done():
			return
		}
	gather:
		for len(batch) < StepBatchMax {
			select {
			case s := <-r.queue:
				batch = append(batch, s)
			default:
				break gather
			}
		}
		r.runBatch(ctx, batch)
	}
}

func (r *refRun) runBatch(ctx context.Context, batch []*refStep) {
	tickets, steps := make([]string, len(batch)), make([]int32, len(batch))
	for i, s := range batch {
		tickets[i], steps[i] = s.ticket, int32(s.n)
	}
	if _, err := r.pool.Exec(ctx, insertSteps, tickets, steps); err != nil {
		r.fail(ctx, "floor batch commit", err)
		for _, s := range batch {
			close(s.failed)
		}
		return
	}
	r.stepBatches.add(len(batch))
	published := time.Now()
	for _, s := range batch {
		r.commit.Add(published.Sub(s.asked))
		s.published.Store(int64(published.Sub(r.epoch)))
	}
	futures := make([]jetstream.PubAckFuture, len(batch))
	for i, s := range batch {
		msg := &nats.Msg{Subject: r.subject(s.n), Data: []byte(s.id)}
		f, err := r.js.PublishMsgAsync(msg, jetstream.WithMsgID(s.id), jetstream.WithExpectStream(FloorStream))
		if err != nil {
			r.fail(ctx, "floor publish", err)
			close(s.failed)
			continue
		}
		futures[i] = f
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case <-f.Ok():
			r.publish.Add(time.Since(published))
		case err := <-f.Err():
			r.fail(ctx, "floor publish", err)
			close(batch[i].failed)
		case <-ctx.Done():
			return
		}
	}
}

// batchedConsumer starts the one durable consumer of the batched floor:
// it fetches up to InboxBatchMax messages at a time and records every
// message already delivered in one commit, then acks them.
func (r *refRun) batchedConsumer(ctx, bg context.Context) error {
	name := "benchfloor-" + r.name
	cons, err := r.js.CreateOrUpdateConsumer(ctx, FloorStream, jetstream.ConsumerConfig{Durable: name,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxAckPending: 4 * InboxBatchMax})
	if err != nil {
		return fmt.Errorf("create the %s floor's consumer %s: %w", r.name, name, err)
	}
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		for bg.Err() == nil {
			b, err := cons.Fetch(InboxBatchMax, jetstream.FetchMaxWait(inboxFetchWait))
			if err != nil {
				r.fail(bg, "floor fetch", err)
				sleep(bg, 100*time.Millisecond)
				continue
			}
			r.drainFetch(bg, name, b.Messages())
			if err := b.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
				r.fail(bg, "floor fetch", err)
			}
		}
	}()
	return nil
}

// drainFetch records a fetch's messages as they arrive: each time, all
// those delivered so far (at least one) in one commit.
func (r *refRun) drainFetch(ctx context.Context, consumer string, msgs <-chan jetstream.Msg) {
	batch := make([]jetstream.Msg, 0, InboxBatchMax)
	for m := range msgs {
		batch = append(batch[:0], m)
		open := true
	gather:
		for len(batch) < InboxBatchMax {
			select {
			case m, ok := <-msgs:
				if !ok {
					open = false
					break gather
				}
				batch = append(batch, m)
			default:
				break gather
			}
		}
		r.record(ctx, consumer, batch)
		if !open {
			return
		}
	}
}

// record commits a batch of messages to the inbox in one statement, then
// acks them and tells their steps.
func (r *refRun) record(ctx context.Context, consumer string, batch []jetstream.Msg) {
	ids, tickets, steps := make([]string, len(batch)), make([]string, len(batch)), make([]int32, len(batch))
	for i, m := range batch {
		ids[i] = string(m.Data())
		t, n := parseStepID(ids[i])
		tickets[i], steps[i] = t, int32(n)
	}
	if _, err := r.pool.Exec(ctx, insertInboxN, ids, tickets, steps, consumer); err != nil {
		r.fail(ctx, "floor inbox commit", err)
		for _, m := range batch {
			_ = m.NakWithDelay(100 * time.Millisecond)
		}
		return
	}
	r.inboxBatches.add(len(batch))
	for _, m := range batch {
		if err := m.Ack(); err != nil {
			r.fail(ctx, "floor ack", err)
		}
	}
	r.consumed(ids...)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// run drives the floor's tickets, inFlight at a time, for o.FloorDuration.
func (r *refRun) run(ctx context.Context, d *Deployment, rep *ReferenceFloorReport) (*ReferenceFloorReport, error) {
	var arr arrivals
	start := time.Now()
	r.windowEnd = start.Add(r.o.FloorDuration)
	drain, endDrain := context.WithDeadline(ctx, start.Add(r.o.FloorDuration+r.o.Drain))
	defer endDrain()
	m := startMeter(append(d.Processes, Self()), time.Second)
	bar := showProgress(r.o.Progress, r.o.Terminal, r.name+" floor", [2]string{"started", "done"}, r.o.FloorDuration, func() figures {
		s, n := int(arr.started.Load()), int(r.done.Load())
		return figures{started: s, done: n, inFlight: s - n, errors: r.errs.Total()}
	})
	arr.closed(drain, r.inFlight, r.o.FloorDuration, func(i int) { r.ticket(drain, i) })
	arr.wait()
	bar.stop()
	rep.Processes = m.stop()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("interrupted: %w", ctx.Err())
	}
	rep.Started = int(arr.started.Load())
	rep.DrainedSeconds = time.Since(start).Seconds() - r.o.FloorDuration.Seconds()
	r.figures(rep)
	return rep, nil
}

// figures fills in the floor's throughput, stages, batches, CPU and errors.
func (r *refRun) figures(rep *ReferenceFloorReport) {
	rep.WindowSeconds = r.o.FloorDuration.Seconds()
	rep.Done, rep.DoneInWindow = int(r.done.Load()), int(r.doneInWindow.Load())
	rep.Stuck = rep.Started - rep.Done
	rep.TicketsPerSecond = float64(rep.DoneInWindow) / r.o.FloorDuration.Seconds()
	rep.Errors = r.errs.Rows()
	rep.Stages = []Stage{
		stageOf(RefStageCommit, clockClient, r.commit.Summary()),
		stageOf(RefStagePublish, clockClient, r.publish.Summary()),
		stageOf(RefStageConsume, clockClient, r.consume.Summary()),
		stageOf(RefStageStep, clockClient, r.step.Summary()),
		stageOf(RefStageTicket, clockClient, r.whole.Summary()),
	}
	if r.name == RefBatched {
		rep.Batches = []BatchSizes{r.stepBatches.sizes("steps per commit and publish"), r.inboxBatches.sizes("messages per inbox commit")}
	}
	rep.CPUMsPerTicket = map[string]float64{}
	for _, p := range rep.Processes {
		if rep.Done > 0 {
			rep.CPUMsPerTicket[p.Name] = 1000 * p.CPUSeconds / float64(rep.Done)
		}
	}
}
