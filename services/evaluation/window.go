package evaluation

import (
	"context"
	"fmt"
	"time"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// CloseExpired closes every round whose evaluation window has passed without
// a verdict, with the configured default verdict, recorded as such (monitoring
// never counts it as a real one). Rounds are locked one by one, so any number
// of replicas may run it at once; the windows live in PostgreSQL, so none is
// lost across restarts. It returns how many rounds it closed.
func (s *Service) CloseExpired(ctx context.Context) (int, error) {
	total := 0
	for {
		now := s.clock.Now()
		n, err := s.store.EachDue(ctx, now, 100, func(e *Evaluation) (ticket.Action, error) {
			action, err := e.judge(s.cfg.DefaultVerdict, "no verdict within the evaluation window", nil,
				Actor{ID: "service:" + Name}, SourceDefault, now)
			e.callBack = s.drawCallBack(action)
			return action, err
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("close expired evaluations: %w", err)
		}
		if n < 100 {
			return total, nil
		}
	}
}

// runWindows closes expired rounds every interval until ctx ends.
func (s *Service) runWindows(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.CloseExpired(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "closing expired evaluations failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
