package bench

import (
	"sync"
	"time"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// ticket is what the run knows of one of its tickets. Server times come
// from the events (their occurred_at); client times from the bench's clock.
// Its fields are guarded by the tracker's lock.
type ticket struct {
	id    string
	plan  step
	known bool      // reported by this run (its Report call answered)
	seen  time.Time // when the run first heard of it

	reportStart            time.Time // client
	reportedAt, dispatched time.Time // server
	inboxSeen              time.Time // client: the DISPATCHED item arrived on its department's watch
	resolvedAt, evaluated  []time.Time
	evalOpen               []time.Time // client: the round seen open, per round
	closedAt, closedSeen   time.Time   // server; client (the closed event arrived)
	reopened               bool

	events       map[string]bool // event ids applied
	accepting    bool            // a handler took it up
	resolving    int             // rounds a handler resolved (or is resolving)
	judging      int             // rounds an evaluator took up
	opened       int             // rounds evaluation announced open
	pendingRound int             // a round resolved before the run knew the ticket
	progress     time.Time       // last time anything happened to it
	checked      time.Time       // last time the sweeper read its timeline
	done         chan struct{}   // closed once the ticket is closed or given up
	finished     bool
}

// tracker holds the run's tickets by id. Events, inbox changes and Report
// answers arrive in any order; each creates the ticket's record if needed.
type tracker struct {
	mu   sync.Mutex
	byID map[string]*ticket
	now  func() time.Time

	reported, closed, failed int
}

func newTracker(now func() time.Time) *tracker {
	return &tracker{byID: map[string]*ticket{}, now: now}
}

// get returns the ticket's record, made if new; call with the lock held.
func (t *tracker) get(id string) *ticket {
	tk := t.byID[id]
	if tk == nil {
		now := t.now()
		tk = &ticket{id: id, seen: now, progress: now, events: map[string]bool{}, done: make(chan struct{})}
		t.byID[id] = tk
	}
	return tk
}

// register records the answer to a Report call and returns the ticket with
// the round an evaluator must take up, if one was resolved before.
func (t *tracker) register(id string, s step, start, end time.Time) (*ticket, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tk := t.get(id)
	tk.known, tk.plan, tk.reportStart, tk.progress = true, s, start, end
	t.reported++
	round := tk.pendingRound
	tk.pendingRound = 0
	if tk.finished && !tk.closedAt.IsZero() {
		t.closed++ // it closed before the answer came: count it now
	}
	return tk, round
}

// event applies one projected event (from the event stream or a timeline)
// received at `at`, and returns the round an evaluator must now take up (0:
// none); fresh is false when the event was applied before.
func (t *tracker) event(id string, e *whistlev1.TimelineEntry, at time.Time) (tk *ticket, round int, fresh bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tk = t.get(id)
	if tk.events[e.GetEventId()] {
		return tk, 0, false
	}
	tk.events[e.GetEventId()] = true
	tk.progress = at
	when := e.GetOccurredAt().AsTime()
	switch e.GetEventType() {
	case "reported":
		tk.reportedAt = when
	case "dispatched":
		if tk.dispatched.IsZero() {
			tk.dispatched = when
		}
	case "resolved":
		tk.resolvedAt = append(tk.resolvedAt, when)
	case "evaluation_opened":
		tk.opened++
		return tk, t.judge(tk, tk.opened), true
	case "evaluated":
		tk.evaluated = append(tk.evaluated, when)
	case "reopened":
		tk.reopened = true
	case "closed":
		tk.closedAt, tk.closedSeen = when, at
		t.finish(tk, true)
	}
	return tk, 0, true
}

// judge says whether an evaluator should take up round now.
func (t *tracker) judge(tk *ticket, round int) int {
	if round <= tk.judging {
		return 0
	}
	if !tk.known {
		tk.pendingRound = round
		return 0
	}
	tk.judging = round
	return round
}

// finish marks the ticket done: closed, or given up after a failure.
func (t *tracker) finish(tk *ticket, closed bool) {
	if tk.finished {
		return
	}
	tk.finished = true
	close(tk.done)
	switch {
	case closed && tk.known:
		t.closed++
	case !closed:
		t.failed++
	}
}

// fail gives the ticket up: a call it needed failed for good.
func (t *tracker) fail(tk *ticket) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.finish(tk, false)
}

// inboxAction is what a department's handler must do after an inbox change.
type inboxAction int

const (
	actNone inboxAction = iota
	actAccept
	actResolve
)

// inbox applies a lead department's inbox change received at `at`.
func (t *tracker) inbox(item *whistlev1.InboxItem, at time.Time) (*ticket, inboxAction, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tk := t.get(item.GetTicketId())
	switch item.GetStatus() {
	case whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED:
		if tk.accepting {
			return tk, actNone, 0
		}
		tk.accepting, tk.inboxSeen, tk.progress, tk.resolving = true, at, at, 1
		return tk, actAccept, 1
	case whistlev1.TicketStatus_TICKET_STATUS_REOPENED:
		round := int(item.GetReworkCount()) + 1
		if round <= tk.resolving {
			return tk, actNone, 0
		}
		tk.resolving, tk.progress = round, at
		return tk, actResolve, round
	}
	return tk, actNone, 0
}

// evalOpened records when the evaluator saw the round open.
func (t *tracker) evalOpened(tk *ticket, round int, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(tk.evalOpen) < round {
		tk.evalOpen = append(tk.evalOpen, time.Time{})
	}
	tk.evalOpen[round-1], tk.progress = at, at
}

// counts returns how many tickets were reported, closed and given up.
func (t *tracker) counts() (reported, closed, failed int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reported, t.closed, t.failed
}

// stalled lists up to n of the run's open tickets that nothing happened to
// for `quiet`, least recently checked first, and marks them checked; it
// forgets tickets of other runs first heard of longer than `forget` ago.
func (t *tracker) stalled(n int, quiet, forget time.Duration) []*ticket {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var out []*ticket
	for id, tk := range t.byID {
		if !tk.known {
			if now.Sub(tk.seen) > forget && !tk.accepting && tk.pendingRound == 0 { // not the run's
				delete(t.byID, id)
			}
			continue
		}
		if tk.finished || now.Sub(tk.progress) < quiet || now.Sub(tk.checked) < quiet {
			continue
		}
		if len(out) < n {
			tk.checked = now
			out = append(out, tk)
		}
	}
	return out
}

// snapshot copies the run's known tickets (for the figures, after the run).
func (t *tracker) snapshot() []ticket {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []ticket
	for _, tk := range t.byID {
		if tk.known {
			c := *tk
			c.events, c.done = nil, nil
			out = append(out, c)
		}
	}
	return out
}
