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

	"github.com/whistle-civic/whistle/pkg/bus"
)

// The floor is the least durable work a ticket can cost on the same
// servers, with no business logic: per ticket, as many PostgreSQL commits,
// JetStream publishes and consumes as the loop does, one after another.
// See docs/performance.md, "The floor".
const (
	// FloorSchema holds the floor's table; FloorStream its messages. The
	// bench creates both and drops them at the end.
	FloorSchema = "bench_floor"
	FloorStream = "BENCHFLOOR"
	// floorSubjects prefixes the floor's subjects: <prefix>.<hop>.
	floorSubjects = "benchfloor"
	// floorPool is the floor's PostgreSQL connections: the five services'
	// pools of `whistle dev` (8 each).
	floorPool = 40
)

// FloorUser is the NATS user `whistle dev` makes for the floor, which may
// publish only FloorPublishAllow: not a single event subject.
const FloorUser = "bench"

// FloorPublishAllow is what the floor publishes, given the events stream
// whose settings it copies ("": WHISTLE): its own stream's and consumers'
// JetStream API, a look at the events stream, its subjects, acks. Its
// subscriptions need bus.InboxSubjects only.
func FloorPublishAllow(events string) []string {
	events = first(events, "WHISTLE")
	return append([]string{bus.AccountInfo, bus.AckSubjects, bus.InboxSubjects, floorSubjects + ".>",
		"$JS.API.STREAM.INFO." + events, "$JS.API.STREAM.*." + FloorStream}, bus.ConsumerAPI(FloorStream)...)
}

// The floor's stages, as the report names them.
const (
	FloorStageCommit  = "commit"
	FloorStagePublish = "publish (until acked)"
	FloorStageConsume = "published → consumed"
	FloorStageTicket  = "ticket (start → done)"
)

// FloorWork is what one floor ticket does.
type FloorWork struct {
	// Commits to PostgreSQL (each a one-row insert in its own transaction),
	// counting one per consume.
	Commits int `json:"commits"`
	// Publishes to JetStream, each acknowledged before the ticket goes on.
	Publishes int `json:"publishes"`
	// Consumes by durable pull consumers with explicit acks.
	Consumes int `json:"consumes"`
}

// plan spreads the work over the ticket's hops (one per publish): hop h
// first makes pre[h] commits, then publishes one message, then waits until
// fanout[h] consumers have each committed and acknowledged it. The
// commits other than the consumers' (Commits - Consumes) and the consumes
// are spread evenly over the hops.
func (w FloorWork) plan() (pre, fanout []int) {
	p := max(w.Publishes, 1)
	return spread(max(w.Commits-w.Consumes, 0), p), spread(w.Consumes, p)
}

// spread divides n into p parts that differ by at most one.
func spread(n, p int) []int {
	out := make([]int, p)
	for i := range out {
		out[i] = (i+1)*n/p - i*n/p
	}
	return out
}

// FloorReport is the floor's run.
type FloorReport struct {
	Work           FloorWork `json:"work"`
	Model          string    `json:"model"`
	WindowSeconds  float64   `json:"window_seconds"`
	DrainedSeconds float64   `json:"drained_seconds"`
	Arrivals       int       `json:"arrivals"`
	Late           int       `json:"late"`
	// Done tickets (every message consumed and acked); DoneInWindow by the
	// window's end; Stuck not done when the drain ended.
	Done             int             `json:"done"`
	DoneInWindow     int             `json:"done_in_window"`
	Stuck            int             `json:"stuck"`
	TicketsPerSecond float64         `json:"tickets_per_second"`
	Stages           []Stage         `json:"stages"`
	Errors           []ErrorRow      `json:"errors"`
	Processes        []ProcessReport `json:"processes"`
	// Stream and StreamStorage: the floor's stream and its storage, copied
	// from the events stream's.
	Stream        string `json:"stream"`
	StreamStorage string `json:"stream_storage"`
}

// floorRun is one run of the floor.
type floorRun struct {
	o           Options
	w           FloorWork
	pre, fanout []int
	pool        *pgxpool.Pool
	js          jetstream.JetStream
	key         string // prefixes the floor's ticket ids: "<run id>-"
	errs        Errors

	commit, publish, consume, whole Samples

	mu      sync.Mutex
	waiting map[string]*waiter // by message id

	done, doneInWindow atomic.Int64
	windowEnd          time.Time
}

// waiter is a hop waiting for its message's consumers.
type waiter struct {
	left int
	ch   chan struct{}
}

// FloorOptions let a test keep the floor's table and stream to count them.
type FloorOptions struct {
	// Keep leaves bench_floor and BENCHFLOOR in place after the run.
	Keep bool
}

// RunFloor runs the floor on the deployment's PostgreSQL and JetStream with
// w as each ticket's work.
func RunFloor(ctx context.Context, d *Deployment, o Options, w FloorWork, fo FloorOptions) (*FloorReport, error) {
	o.defaults()
	if d.DatabaseURL == "" || (d.NATSURL == "" && len(d.NATSOptions) == 0) {
		return nil, errors.New("the floor needs the deployment's PostgreSQL and NATS: pass --database-url and --nats-url " +
			"(a `whistle dev` writes both to <data>/endpoints.json), or --no-floor")
	}
	f := &floorRun{o: o, w: w, key: o.RunID + "-", waiting: map[string]*waiter{}}
	f.pre, f.fanout = w.plan()
	cleanup, rep, err := f.setUp(ctx, d, fo)
	defer cleanup()
	if err != nil {
		return nil, err
	}
	return f.run(ctx, d, rep)
}

// setUp makes the table, the stream and the consumers, and returns what
// undoes them.
func (f *floorRun) setUp(ctx context.Context, d *Deployment, fo FloorOptions) (func(), *FloorReport, error) {
	var undo []func()
	cleanup := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	pool, err := floorDB(ctx, d.DatabaseURL)
	if err != nil {
		return cleanup, nil, err
	}
	f.pool = pool
	undo = append(undo, func() { dropFloorDB(pool, fo.Keep); pool.Close() })
	nc, err := nats.Connect(d.NATSURL, append([]nats.Option{nats.Name("whistle bench floor")}, d.NATSOptions...)...)
	if err != nil {
		return cleanup, nil, fmt.Errorf("connect to NATS for the floor: %w (check --nats-url)", err)
	}
	undo = append(undo, nc.Close)
	if f.js, err = jetstream.New(nc); err != nil {
		return cleanup, nil, err
	}
	storage, err := f.stream(ctx, first(d.Stream, "WHISTLE"))
	if err != nil {
		return cleanup, nil, err
	}
	if !fo.Keep {
		undo = append(undo, func() { _ = f.js.DeleteStream(context.Background(), FloorStream) })
	}
	stop, err := f.consumers(ctx)
	undo = append(undo, stop)
	if err != nil {
		return cleanup, nil, err
	}
	return cleanup, &FloorReport{Work: f.w, Model: f.o.model(), Stream: FloorStream, StreamStorage: storage}, nil
}

// floorDB connects and makes the floor's table (anew).
func floorDB(ctx context.Context, url string) (*pgxpool.Pool, error) {
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
		CREATE TABLE `+FloorSchema+`.commits (
			id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			ticket   text        NOT NULL,
			step     int         NOT NULL,
			consumer text        NOT NULL DEFAULT '',
			at       timestamptz NOT NULL DEFAULT now())`)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("create the floor's table in schema %s: %w (the user must be allowed to create schemas)", FloorSchema, err)
	}
	return pool, nil
}

func dropFloorDB(pool *pgxpool.Pool, keep bool) {
	if !keep {
		_, _ = pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+FloorSchema+` CASCADE`)
	}
}

// stream makes the floor's stream (anew) with the events stream's storage
// and replicas, and describes them.
func (f *floorRun) stream(ctx context.Context, events string) (string, error) {
	return floorStream(ctx, f.js, events, floorSubjects+".>")
}

// floorStream makes FloorStream (anew) on subjects with the events stream's
// storage and replicas, and describes them. Every floor uses it in turn.
func floorStream(ctx context.Context, js jetstream.JetStream, events, subjects string) (string, error) {
	storage, replicas := jetstream.FileStorage, 1
	if s, err := js.Stream(ctx, events); err == nil {
		storage, replicas = s.CachedInfo().Config.Storage, s.CachedInfo().Config.Replicas
	}
	if err := js.DeleteStream(ctx, FloorStream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return "", fmt.Errorf("remove an old %s stream: %w", FloorStream, err)
	}
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: FloorStream, Subjects: []string{subjects},
		Storage: storage, Replicas: replicas, Duplicates: 2 * time.Minute})
	if err != nil {
		return "", fmt.Errorf("create the floor's stream %s: %w", FloorStream, err)
	}
	return fmt.Sprintf("%s storage, %d replica(s), like %s", strings.ToLower(storage.String()), replicas, events), nil
}

// consumers starts, for each hop, one durable pull consumer per consume of
// its message; each handles one message at a time, like the services'.
func (f *floorRun) consumers(ctx context.Context) (func(), error) {
	var running []jetstream.ConsumeContext
	stop := func() {
		for _, c := range running {
			c.Stop()
		}
	}
	for h, n := range f.fanout {
		for k := range n {
			name := fmt.Sprintf("benchfloor-%d-%d", h, k)
			cons, err := f.js.CreateOrUpdateConsumer(ctx, FloorStream, jetstream.ConsumerConfig{Durable: name,
				FilterSubject: fmt.Sprintf("%s.%d", floorSubjects, h), AckPolicy: jetstream.AckExplicitPolicy,
				AckWait: 30 * time.Second, DeliverPolicy: jetstream.DeliverAllPolicy, MaxAckPending: 1024})
			if err != nil {
				return stop, fmt.Errorf("create the floor's consumer %s: %w", name, err)
			}
			cc, err := cons.Consume(func(m jetstream.Msg) { f.handle(ctx, name, m) }, jetstream.PullMaxMessages(256))
			if err != nil {
				return stop, fmt.Errorf("start the floor's consumer %s: %w", name, err)
			}
			running = append(running, cc)
		}
	}
	return stop, nil
}

// handle is a consume: commit a row, acknowledge, tell the hop.
func (f *floorRun) handle(ctx context.Context, consumer string, m jetstream.Msg) {
	id := m.Headers().Get(jetstream.MsgIDHeader)
	ticket, step, _ := strings.Cut(id, "#")
	n, _ := strconv.Atoi(step)
	if err := f.insert(ctx, ticket, n, consumer); err != nil {
		_ = m.NakWithDelay(100 * time.Millisecond)
		return
	}
	if err := m.Ack(); err != nil {
		f.errs.Add("floor ack", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if w := f.waiting[id]; w != nil {
		if w.left--; w.left == 0 {
			close(w.ch)
			delete(f.waiting, id)
		}
	}
}

// insert is one commit: a one-row insert in its own transaction.
func (f *floorRun) insert(ctx context.Context, ticket string, step int, consumer string) error {
	start := time.Now()
	_, err := f.pool.Exec(ctx, `INSERT INTO `+FloorSchema+`.commits (ticket, step, consumer) VALUES ($1, $2, $3)`, ticket, step, consumer)
	if err != nil {
		if ctx.Err() == nil {
			f.errs.Add("floor commit", err)
		}
		return err
	}
	f.commit.Add(time.Since(start))
	return nil
}

// ticket runs one floor ticket to its end (or the drain's).
func (f *floorRun) ticket(ctx context.Context, i int) {
	start := time.Now()
	id := f.key + strconv.Itoa(i)
	for h := range f.pre {
		for range f.pre[h] {
			if f.insert(ctx, id, h, "") != nil {
				return
			}
		}
		if !f.hop(ctx, id, h) {
			return
		}
	}
	f.whole.Add(time.Since(start))
	f.done.Add(1)
	if !time.Now().After(f.windowEnd) {
		f.doneInWindow.Add(1)
	}
}

// hop publishes the ticket's message h and waits until it is consumed.
func (f *floorRun) hop(ctx context.Context, ticket string, h int) bool {
	id := fmt.Sprintf("%s#%d", ticket, h)
	w := &waiter{left: f.fanout[h], ch: make(chan struct{})}
	if w.left == 0 {
		close(w.ch)
	} else {
		f.mu.Lock()
		f.waiting[id] = w
		f.mu.Unlock()
	}
	start := time.Now()
	msg := &nats.Msg{Subject: fmt.Sprintf("%s.%d", floorSubjects, h), Data: []byte(id)}
	if _, err := f.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id), jetstream.WithExpectStream(FloorStream)); err != nil {
		if ctx.Err() == nil {
			f.errs.Add("floor publish", err)
		}
		return false
	}
	f.publish.Add(time.Since(start))
	select {
	case <-w.ch:
		f.consume.Add(time.Since(start))
		return true
	case <-ctx.Done():
		return false
	}
}

// run drives floor tickets like the loop's (same model, rate, concurrency).
func (f *floorRun) run(ctx context.Context, d *Deployment, rep *FloorReport) (*FloorReport, error) {
	var arr arrivals
	start := time.Now()
	f.windowEnd = start.Add(f.o.FloorDuration)
	drain, endDrain := context.WithDeadline(ctx, start.Add(f.o.FloorDuration+f.o.Drain))
	defer endDrain()
	m := startMeter(append(d.Processes, Self()), time.Second)
	bar := showProgress(f.o.Progress, f.o.Terminal, "floor", [2]string{"started", "done"}, f.o.FloorDuration, func() figures {
		s, n := int(arr.started.Load()), int(f.done.Load())
		return figures{started: s, done: n, inFlight: s - n, errors: f.errs.Total()}
	})
	arr.run(drain, f.o.Rate, f.o.Concurrency, f.o.FloorDuration, func(i int) { f.ticket(drain, i) })
	arr.wait()
	bar.stop()
	rep.Processes = m.stop()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("interrupted: %w", ctx.Err())
	}
	rep.Arrivals, rep.Late = int(arr.started.Load()), int(arr.late.Load())
	rep.DrainedSeconds = time.Since(start).Seconds() - f.o.FloorDuration.Seconds()
	f.figures(rep)
	return rep, nil
}

// figures fills in the floor's throughput, stages and errors.
func (f *floorRun) figures(rep *FloorReport) {
	rep.WindowSeconds = f.o.FloorDuration.Seconds()
	rep.Done, rep.DoneInWindow = int(f.done.Load()), int(f.doneInWindow.Load())
	rep.Stuck = rep.Arrivals - rep.Done
	rep.TicketsPerSecond = float64(rep.DoneInWindow) / f.o.FloorDuration.Seconds()
	rep.Errors = f.errs.Rows()
	rep.Stages = []Stage{
		stageOf(FloorStageCommit, clockClient, f.commit.Summary()),
		stageOf(FloorStagePublish, clockClient, f.publish.Summary()),
		stageOf(FloorStageConsume, clockClient, f.consume.Summary()),
		stageOf(FloorStageTicket, clockClient, f.whole.Summary()),
	}
}
