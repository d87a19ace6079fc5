package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/whistle-civic/whistle/pkg/apperr"
	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/postgres"
)

// Backpressure bounds how far the reports intake has accepted may fall behind
// on their way to dispatch. Past a limit, Report refuses new whistles with
// ErrBusy (ResourceExhausted, with a RetryInfo hint) instead of letting the
// backlog grow without bound; a retry of a report already accepted still
// returns its ticket, and proactive tickets (from monitoring's hot spots) are
// never refused, so that their events are not dead-lettered.
//
// The figures are read in the background by Service.Run, every Every; Report
// decides on the last reading and never waits for one. Until Run has read a
// figure, its limit is not applied. In every field, zero means the default
// and, for the limits, a negative value turns that limit off.
type Backpressure struct {
	// MaxOutbox is how many events may wait unsent in the outbox (the relay
	// cannot publish them: NATS is down or slow) before new reports are
	// refused. Default 10000. If the outbox cannot be read, the last reading
	// stands (Report itself fails while the database is down).
	MaxOutbox int
	// MaxOutboxAge is how long the oldest unsent event may have waited (by
	// the database's clock) before new reports are refused. Default 30 min:
	// intake keeps accepting whistles through a NATS outage shorter than that.
	MaxOutboxAge time.Duration
	// MaxLag is how many reported events the Consumer may have outstanding —
	// in the stream and not yet delivered to it, or delivered and not yet
	// acknowledged (NumPending + NumAckPending) — before new reports are
	// refused. Default 20000. When JetStream cannot be asked (NATS is down,
	// or the consumer does not exist yet), this limit is not applied, so
	// whistles keep being accepted into the outbox until MaxOutbox or
	// MaxOutboxAge is reached.
	MaxLag int64
	// Consumer is the durable JetStream consumer that takes intake's reports.
	// Default "dispatch" (dispatch's consumer of reported events).
	Consumer string
	// Every is how often the figures are read again. Default 1 s; negative:
	// never, which turns every limit off.
	Every time.Duration
	// RetryAfter is the hint a refused caller gets, in the message and as a
	// google.rpc.RetryInfo detail. Default (zero or negative) 5 s.
	RetryAfter time.Duration
}

func (c Backpressure) withDefaults() Backpressure {
	if c.MaxOutbox == 0 {
		c.MaxOutbox = 10000
	}
	if c.MaxOutboxAge == 0 {
		c.MaxOutboxAge = 30 * time.Minute
	}
	if c.MaxLag == 0 {
		c.MaxLag = 20000
	}
	if c.Consumer == "" {
		c.Consumer = "dispatch"
	}
	if c.Every == 0 {
		c.Every = time.Second
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = 5 * time.Second
	}
	return c
}

// backlog is a reading of how far behind intake's reports are.
type backlog struct {
	// Outbox is how many events wait unsent, OutboxAge how long the oldest has
	// waited; OutboxKnown says whether the outbox has been read.
	Outbox      int
	OutboxAge   time.Duration
	OutboxKnown bool
	// Lag is how many reported events the consumer has outstanding; LagKnown
	// says whether JetStream answered the last time it was asked.
	Lag      uint64
	LagKnown bool
}

// refusal returns ErrBusy, saying what is behind and by how much, when b
// exceeds a limit of c (with its defaults filled in), or nil.
func (c Backpressure) refusal(b backlog) error {
	behind := c.behind(b)
	if len(behind) == 0 {
		return nil
	}
	secs := int64(math.Ceil(c.RetryAfter.Seconds()))
	return apperr.WithRetryAfter(fmt.Errorf("%w: %s; retry in %d s with the same idempotency key",
		ErrBusy, strings.Join(behind, "; "), secs), c.RetryAfter)
}

// behind says, for each limit of c that b exceeds, what is behind and by how much.
func (c Backpressure) behind(b backlog) []string {
	var behind []string
	if b.OutboxKnown && c.MaxOutbox >= 0 && b.Outbox > c.MaxOutbox {
		behind = append(behind, fmt.Sprintf("%d events wait unsent in the outbox, %d over the limit of %d",
			b.Outbox, b.Outbox-c.MaxOutbox, c.MaxOutbox))
	}
	if b.OutboxKnown && c.MaxOutboxAge >= 0 && b.OutboxAge > c.MaxOutboxAge {
		behind = append(behind, fmt.Sprintf("the oldest unsent event has waited %s, %s over the limit of %s",
			roughly(b.OutboxAge), roughly(b.OutboxAge-c.MaxOutboxAge), c.MaxOutboxAge))
	}
	if b.LagKnown && c.MaxLag >= 0 && b.Lag > uint64(c.MaxLag) {
		behind = append(behind, fmt.Sprintf("consumer %q has %d reported events not yet delivered or acknowledged, %d over the limit of %d",
			c.Consumer, b.Lag, b.Lag-uint64(c.MaxLag), c.MaxLag))
	}
	return behind
}

// roughly rounds d for a message: to seconds, or milliseconds below 10 s.
func roughly(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

// readTimeout bounds one reading of a figure.
const readTimeout = 2 * time.Second

// pressure keeps the last reading of intake's backlog, refreshed in the
// background by run, and decides from it whether a new report may come in.
type pressure struct {
	cfg Backpressure
	// outbox reads the unsent events' count and the oldest one's age; nil
	// when both outbox limits are off.
	outbox func(ctx context.Context) (int, time.Duration, error)
	// lag reads the consumer's outstanding events; nil when the limit is off
	// or there is no JetStream.
	lag func(ctx context.Context) (uint64, error)
	log *slog.Logger

	mu        sync.Mutex
	last      backlog
	outboxErr bool // the last outbox reading failed
	lagErr    bool // the last lag reading failed
	busy      bool // the last reading exceeded a limit
}

// newPressure builds the backpressure of a service on its database and bus.
func newPressure(cfg Backpressure, db *postgres.DB, b *bus.Bus, log *slog.Logger) *pressure {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &pressure{cfg: cfg, log: log}
	if db != nil && (cfg.MaxOutbox >= 0 || cfg.MaxOutboxAge >= 0) {
		p.outbox = outboxBacklog(db)
	}
	if b != nil && cfg.MaxLag >= 0 {
		p.lag = consumerLag(b, cfg.Consumer)
	}
	return p
}

// check returns ErrBusy when the last reading exceeds a limit.
func (p *pressure) check() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg.refusal(p.last)
}

// run refreshes the figures every cfg.Every until ctx ends. The outbox and
// the consumer are read independently, so that a JetStream that does not
// answer does not hold up the outbox figures.
func (p *pressure) run(ctx context.Context) {
	if p.cfg.Every < 0 {
		return
	}
	var reads []func(context.Context)
	if p.outbox != nil {
		reads = append(reads, p.readOutbox)
	}
	if p.lag != nil {
		reads = append(reads, p.readLag)
	}
	var wg sync.WaitGroup
	for _, read := range reads {
		wg.Go(func() {
			t := time.NewTicker(p.cfg.Every)
			defer t.Stop()
			for {
				read(ctx)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	wg.Wait()
}

// refresh reads every figure once.
func (p *pressure) refresh(ctx context.Context) {
	p.readOutbox(ctx)
	p.readLag(ctx)
}

// readOutbox reads the outbox figures; on failure the last reading stands.
func (p *pressure) readOutbox(ctx context.Context) {
	if p.outbox == nil {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, readTimeout)
	n, age, err := p.outbox(rctx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if !p.outboxErr {
			p.log.Warn("cannot read the outbox backlog; keeping its last reading", "err", err)
		}
		p.outboxErr = true
		return
	}
	p.outboxErr = false
	p.last.Outbox, p.last.OutboxAge, p.last.OutboxKnown = n, age, true
	p.noteChange()
}

// readLag reads the consumer's lag; on failure the lag limit is not applied
// until JetStream answers again.
func (p *pressure) readLag(ctx context.Context) {
	if p.lag == nil {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, readTimeout)
	n, err := p.lag(rctx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if !p.lagErr {
			level := slog.LevelWarn
			if errors.Is(err, jetstream.ErrConsumerNotFound) { // dispatch has not started yet
				level = slog.LevelInfo
			}
			p.log.Log(ctx, level, "cannot read the consumer's lag from JetStream; its limit is not applied until JetStream answers",
				"consumer", p.cfg.Consumer, "err", err)
		}
		p.lagErr = true
		p.last.Lag, p.last.LagKnown = 0, false
	} else {
		p.lagErr = false
		p.last.Lag, p.last.LagKnown = n, true
	}
	p.noteChange()
}

// noteChange logs when new reports start or stop being refused. p.mu is held.
func (p *pressure) noteChange() {
	behind := p.cfg.behind(p.last)
	switch busy := len(behind) > 0; {
	case busy && !p.busy:
		p.log.Warn("refusing new whistles until the backlog shrinks", "behind", strings.Join(behind, "; "))
	case !busy && p.busy:
		p.log.Info("accepting new whistles again", "outbox", p.last.Outbox, "lag", p.last.Lag)
	}
	p.busy = len(behind) > 0
}

// outboxBacklog reads how many events wait unsent in db's outbox and how
// long the oldest has waited, by the database's clock.
func outboxBacklog(db *postgres.DB) func(ctx context.Context) (int, time.Duration, error) {
	return func(ctx context.Context) (int, time.Duration, error) {
		var n int
		var secs float64
		err := db.Pool.QueryRow(ctx, `SELECT count(*),
			COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - min(created_at)), 0)::float8
			FROM outbox WHERE sent_at IS NULL`).Scan(&n, &secs)
		if err != nil {
			return 0, 0, fmt.Errorf("read outbox backlog: %w", err)
		}
		return n, time.Duration(max(secs, 0) * float64(time.Second)), nil
	}
}

// errNoNATS: the bus is not connected, so JetStream cannot be asked.
var errNoNATS = errors.New("not connected to NATS")

// consumerLag reads how many events the durable consumer has outstanding:
// not yet delivered, or delivered and not yet acknowledged.
func consumerLag(b *bus.Bus, durable string) func(ctx context.Context) (uint64, error) {
	return func(ctx context.Context) (uint64, error) {
		if !b.Conn().IsConnected() {
			return 0, errNoNATS
		}
		c, err := b.JetStream().Consumer(ctx, b.Stream(), durable)
		if err != nil {
			return 0, fmt.Errorf("consumer %s on stream %s: %w", durable, b.Stream(), err)
		}
		info := c.CachedInfo()
		return info.NumPending + uint64(max(info.NumAckPending, 0)), nil
	}
}
