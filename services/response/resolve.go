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

// Resolution is the lead department's result.
type Resolution struct {
	TicketID string
	Result   string
	Evidence []Attachment
	// MissingAssists says why the ticket is resolved before every assisting
	// department reported; without it, resolving then is refused.
	MissingAssists string
	By             Actor
}

// Resolve records the lead department's result (办结) on an accepted or
// reopened ticket, once every assisting department has reported its part (or
// with the reason why not).
func (s *Service) Resolve(ctx context.Context, r Resolution) (Item, error) {
	r.Result, r.MissingAssists = strings.TrimSpace(r.Result), strings.TrimSpace(r.MissingAssists)
	if r.Result == "" {
		return Item{}, fmt.Errorf("resolve %s: %w", r.TicketID, errBlankResult)
	}
	return s.act(ctx, "resolve", r.TicketID, func(it *Item) (*Announcement, error) {
		if missing := it.missingAssists(); len(missing) > 0 && r.MissingAssists == "" && it.mine(r.By) == nil {
			return nil, fmt.Errorf("%w (waiting for %s)", ErrAssistsPending, strings.Join(missing, ", "))
		}
		if err := it.act(ticket.Resolve, r.By, s.clock.Now()); err != nil {
			return nil, err
		}
		it.Result, it.Paused, it.ExtensionDue = r.Result, false, time.Time{}
		return &Announcement{Kind: "resolved", Attachments: r.Evidence, MissingAssists: r.MissingAssists}, nil
	})
}
