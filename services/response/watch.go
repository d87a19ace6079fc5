package response

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/whistle-civic/whistle/pkg/postgres"
)

// Watch sends every change to dept's inbox after cursor, in order, and then
// each new change as it commits, until ctx ends or send fails. It calls beat
// with the cursor it starts from at once, and with the cursor reached
// whenever nothing changes for heartbeat. Changes come from the department's
// change log, so a watcher that reconnects with the last cursor it received
// misses nothing and gets nothing twice.
func (s *Service) Watch(ctx context.Context, dept string, after int64, heartbeat time.Duration,
	send func(Change) error, beat func(cursor int64) error) error {
	wake, stop := s.hub.subscribe(dept)
	defer stop()
	hb := time.NewTicker(heartbeat)
	defer hb.Stop()
	poll := time.NewTicker(s.watchPoll)
	defer poll.Stop()
	if err := beat(after); err != nil {
		return err
	}
	for {
		changes, err := s.store.Changes(ctx, dept, after, watchPage)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watch %s: %w", dept, err)
		}
		for _, c := range changes {
			if err := send(c); err != nil {
				return err
			}
			after = c.Cursor
		}
		if len(changes) > 0 {
			hb.Reset(heartbeat)
		}
		if len(changes) == watchPage {
			continue // there may be more at once
		}
		// A page short of full holds every change committed when it was
		// read; one committed since wakes this watcher after its commit.
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-poll.C: // in case a notification was missed
		case <-hb.C:
			if err := beat(after); err != nil {
				return err
			}
		}
	}
}

// watchPage is how many changes a watcher reads at once.
const watchPage = 256

// LatestCursor returns the cursor of the newest change to dept's inbox (0 when none).
func (s *Service) LatestCursor(ctx context.Context, dept string) (int64, error) {
	c, err := s.store.Latest(ctx, dept)
	if err != nil {
		return 0, fmt.Errorf("latest change of %s: %w", dept, err)
	}
	return c, nil
}

// inboxChannel is the LISTEN/NOTIFY channel of numbered inbox changes; the
// payload is the department whose inbox changed. pendingChannel tells the
// sequencers that changes wait for their numbers.
const (
	inboxChannel   = "response_inbox"
	pendingChannel = "response_inbox_pending"
)

// hub wakes watchers when their department's inbox changes: one LISTEN
// connection per service instance, fanned out to every watcher.
type hub struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]bool
}

func newHub() *hub { return &hub{subs: map[string]map[chan struct{}]bool{}} }

// subscribe returns a channel that receives a signal when dept's inbox may
// have changed, and a function to stop.
func (h *hub) subscribe(dept string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs[dept] == nil {
		h.subs[dept] = map[chan struct{}]bool{}
	}
	h.subs[dept][ch] = true
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.subs[dept], ch)
	}
}

func (h *hub) notify(dept string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[dept] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// runHub listens for change notifications until ctx ends, reconnecting
// after failures, and runs the sequencer, which numbers new changes when
// told of them (and every sequencePoll in case a notification was lost).
// Change log rows past ChangeRetention are purged by the platform's janitor.
func (s *Service) runHub(ctx context.Context) error {
	go s.runSequencer(ctx)
	postgres.Listener{DB: s.deps.DB, Channels: []string{inboxChannel, pendingChannel}, Log: s.log,
		Connected: s.kickSequencer, // changes written while not listening
		Notify: func(channel, payload string) {
			if channel == pendingChannel {
				s.kickSequencer()
				return
			}
			s.hub.notify(payload)
		}}.Run(ctx)
	return nil
}

// sequencePoll is how often the sequencer looks for unnumbered changes
// without being told of them.
const sequencePoll = time.Second

// runSequencer numbers inbox changes whenever kicked (or every
// sequencePoll) until ctx ends.
func (s *Service) runSequencer(ctx context.Context) {
	t := time.NewTicker(sequencePoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		case <-t.C:
		}
		for ctx.Err() == nil {
			n, _, err := s.store.Sequence(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.WarnContext(ctx, "cannot number inbox changes; retrying", "err", err)
				}
				break
			}
			// The departments' watchers, here as on every instance, are woken
			// by the notification Sequence sends once it commits.
			if n < sequencePage {
				break
			}
		}
	}
}

// kickSequencer asks the sequencer to run soon.
func (s *Service) kickSequencer() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// ChangeRetention is how long inbox changes are kept for watchers to resume
// from; a watcher further behind starts again from the oldest kept.
const ChangeRetention = 7 * 24 * time.Hour
