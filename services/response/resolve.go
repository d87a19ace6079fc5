package response

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/whistle-civic/whistle/pkg/apperr"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// errBlankResult: a result of only white space.
var errBlankResult = apperr.New(apperr.InvalidArgument, "result must say what was done")

// Resolve records the lead department's result (办结) on an accepted or
// reopened ticket.
func (s *Service) Resolve(ctx context.Context, ticketID string, actor Actor, result string) (Item, error) {
	result = strings.TrimSpace(result)
	if result == "" {
		return Item{}, fmt.Errorf("resolve %s: %w", ticketID, errBlankResult)
	}
	return s.act(ctx, "resolve", ticketID, func(it *Item) (*Announcement, error) {
		if err := it.act(ticket.Resolve, actor, s.clock.Now()); err != nil {
			return nil, err
		}
		it.Result, it.Paused, it.ExtensionDue = result, false, time.Time{}
		return &Announcement{Kind: "resolved"}, nil
	})
}
