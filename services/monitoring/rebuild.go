package monitoring

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/whistle-civic/whistle/pkg/audit"
	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/telemetry"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// resetter is what a rebuild needs of storage.
type resetter interface {
	// Exclusive runs fn while live projection waits (its events are retried
	// later); it fails with ErrRebuilding if another rebuild holds it.
	Exclusive(ctx context.Context, fn func(ctx context.Context) error) error
	// Reset empties every read model and the consumer's inbox.
	Reset(ctx context.Context, consumer string) error
}

// Rebuilt reports a rebuild.
type Rebuilt struct {
	Replayed, Skipped uint64
	Took              time.Duration
}

type replayingKey struct{}

// Rebuild empties the read models and replays every event the stream holds
// into them, with the same rules as live projection, so the result equals
// what live projection built. Live projection waits meanwhile and catches up
// afterwards; queries see the models fill up. progress (may be nil) hears
// how far the replay is. Events that cannot apply (undecodable, or waiting
// for an event the stream lacks) are skipped and counted.
func (s *Service) Rebuild(ctx context.Context, progress func(done, total uint64)) (Rebuilt, error) {
	start := time.Now()
	var r Rebuilt
	if err := audit.RecordCall(ctx, s.deps.DB.Q(ctx), audit.Entry{Action: "projections.rebuild"}); err != nil {
		return r, fmt.Errorf("rebuild: %w", err)
	}
	err := s.reset.Exclusive(ctx, func(ctx context.Context) error {
		if err := s.reset.Reset(ctx, Name); err != nil {
			return fmt.Errorf("reset read models: %w", err)
		}
		ctx = context.WithValue(ctx, replayingKey{}, true)
		p := &inbox.Processor{DB: s.deps.DB, Consumer: Name, Apply: s.applyEvent}
		var waiting []replayed
		n, err := s.deps.Bus.Replay(ctx, func(ctx context.Context, m *bus.Message) error {
			ev, err := events.Decode(m.Data)
			if err != nil {
				s.log.WarnContext(ctx, "rebuild skips an undecodable event", "subject", m.Subject, "err", err)
				r.Skipped++
				return nil
			}
			// Timelines name the trace each event travelled in, as live projection does.
			ctx = telemetry.Extract(ctx, telemetry.HeaderCarrier(m.Header))
			waiting = append(waiting, replayed{ctx, ev})
			waiting, err = drain(p, waiting)
			return err
		}, progress)
		r.Replayed = n
		r.Skipped += uint64(len(waiting))
		return err
	})
	r.Took = time.Since(start)
	if err != nil {
		return r, fmt.Errorf("rebuild: %w", err)
	}
	s.log.InfoContext(ctx, "read models rebuilt", "replayed", r.Replayed, "skipped", r.Skipped, "took", r.Took)
	return r, nil
}

// replayed is an event being replayed, in the context of its trace.
type replayed struct {
	ctx context.Context
	ev  *whistlev1.Event
}

// drain applies the waiting events until none of them can apply yet.
func drain(p *inbox.Processor, waiting []replayed) ([]replayed, error) {
	for progress := true; progress && len(waiting) > 0; {
		progress = false
		rest := waiting[:0]
		for _, r := range waiting {
			outcome, err := p.Process(r.ctx, r.ev)
			if err != nil {
				return nil, err
			}
			if outcome == inbox.OutcomeLater {
				rest = append(rest, r)
			} else {
				progress = true
			}
		}
		waiting = rest
	}
	return waiting, nil
}

// replaying reports whether ctx belongs to a rebuild.
func replaying(ctx context.Context) bool {
	v, _ := ctx.Value(replayingKey{}).(bool)
	return v
}

// errGateClosed: a rebuild is running; live projection waits.
var errGateClosed = errors.New("read models are being rebuilt")

// laterWhileRebuilding turns a closed gate into a decision to retry later.
func laterWhileRebuilding(d ticket.Decision, err error) (ticket.Decision, error) {
	if errors.Is(err, errGateClosed) {
		return ticket.Later, nil
	}
	return d, err
}
