package monitoring

import (
	"context"
	"sync"
	"time"
)

// Watched is one projected event, as watchers see it.
type Watched struct {
	TicketID string
	Entry    Entry
}

// watchBuffer is how many events a watcher may lag behind before it is
// dropped: a slow dashboard must never slow projection down.
const watchBuffer = 1024

// feed fans projected events out to watchers, in commit order.
type feed struct {
	mu   sync.Mutex
	subs map[*watcher]struct{}
}

type watcher struct {
	ch      chan Watched
	types   map[string]bool
	dropped chan struct{}
}

func newFeed() *feed { return &feed{subs: map[*watcher]struct{}{}} }

// publish hands an event to every watcher that wants its type; a watcher
// whose buffer is full is dropped.
func (f *feed) publish(ticketID string, e Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for w := range f.subs {
		if len(w.types) > 0 && !w.types[e.EventType] {
			continue
		}
		select {
		case w.ch <- Watched{TicketID: ticketID, Entry: e}:
		default:
			delete(f.subs, w)
			close(w.dropped)
		}
	}
}

func (f *feed) subscribe(types []string) (*watcher, func()) {
	w := &watcher{ch: make(chan Watched, watchBuffer), types: map[string]bool{}, dropped: make(chan struct{})}
	for _, t := range types {
		w.types[t] = true
	}
	f.mu.Lock()
	f.subs[w] = struct{}{}
	f.mu.Unlock()
	return w, func() {
		f.mu.Lock()
		delete(f.subs, w)
		f.mu.Unlock()
	}
}

// Watch sends each event projected from now on (of the given types; all when
// none) until ctx ends or send fails. beat is called once the watch is live
// and after every interval without events. A watcher more than 1,024 events
// behind gets ErrWatchBehind.
func (s *Service) Watch(ctx context.Context, types []string, interval time.Duration, send func(Watched) error, beat func() error) error {
	w, stop := s.feed.subscribe(types)
	defer stop()
	if err := beat(); err != nil {
		return err
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-w.ch:
			if err := send(ev); err != nil {
				return err
			}
			t.Reset(interval)
		case <-w.dropped:
			return ErrWatchBehind
		case <-t.C:
			if err := beat(); err != nil {
				return err
			}
		}
	}
}
