package monitoring

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Project applies one event to the read models: the ticket's timeline and
// state, the figures of its units, and the hot spot rules. Events apply in
// version order (a transition waits until the one before it has applied),
// exactly once each. Watchers hear of the event once it is committed. While
// a rebuild runs, live events wait (errGateClosed).
func (s *Service) Project(ctx context.Context, ticketID string, c Change) (ticket.Decision, error) {
	var decision ticket.Decision
	var after State
	var routed bool
	err := s.deps.DB.InTx(ctx, func(ctx context.Context, _ pgx.Tx) error {
		if !replaying(ctx) {
			if err := s.store.Enter(ctx); err != nil {
				return err
			}
		}
		err := s.store.Update(ctx, ticketID, func(st *State) (*Entry, Effects, error) {
			decision = ticket.Order(ticket.Contiguous, st.Version, c.Entry.Version, c.Action != "")
			if decision != ticket.Apply {
				return nil, Effects{}, nil
			}
			st.TicketID = ticketID
			eff := apply(st, c, s.loc)
			c.Entry.Status, after, routed = st.Status, *st, eff.Routed
			return &c.Entry, eff, nil
		})
		if err != nil || decision != ticket.Apply {
			return err
		}
		if c.Source == proactiveSource && c.IdempotencyKey != "" {
			if err := s.hot.LinkProactive(ctx, hotSpotOfKey(c.IdempotencyKey), ticketID); err != nil {
				return err
			}
		}
		if routed {
			if err := s.lookForHotSpot(ctx, after); err != nil {
				return fmt.Errorf("hot spots: %w", err)
			}
		}
		if !replaying(ctx) {
			entry := c.Entry
			postgres.AfterCommit(ctx, func() { s.feed.publish(ticketID, entry) })
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("project %s of %s: %w", c.Entry.EventType, ticketID, err)
	}
	return decision, nil
}

// hotSpotOfKey reads the hot spot id out of a proactive ticket's idempotency key.
func hotSpotOfKey(key string) string {
	const prefix = "hotspot:"
	if len(key) > len(prefix) && key[:len(prefix)] == prefix {
		return key[len(prefix):]
	}
	return ""
}
