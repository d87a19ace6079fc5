package intake

import (
	"context"
	"fmt"

	"github.com/whistle-civic/whistle/pkg/ids"
)

// ticketReader is what GetTicket needs from storage.
type ticketReader interface {
	Get(ctx context.Context, id string) (Ticket, error)
	GetByNumber(ctx context.Context, number string) (Ticket, error)
}

// GetTicket returns a ticket by id or by number.
func (s *Service) GetTicket(ctx context.Context, idOrNumber string) (Ticket, error) {
	var t Ticket
	var err error
	if ids.Valid(idOrNumber) {
		t, err = s.store.Get(ctx, idOrNumber)
	} else {
		t, err = s.store.GetByNumber(ctx, idOrNumber)
	}
	if err != nil {
		return Ticket{}, fmt.Errorf("get ticket %s: %w", idOrNumber, err)
	}
	return t, nil
}
