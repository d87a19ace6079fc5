package monitoring

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// CallBack is a closed ticket drawn for a hotline call-back (回访抽查), and
// its outcome once recorded.
type CallBack struct {
	TicketID, Number, Category, LeadDepartmentID string
	ClosedAt                                     time.Time
	Done, Reached                                bool
	Verdict                                      ticket.Verdict
}

// CallBackInput is a call-back's outcome as the hotline records it.
type CallBackInput struct {
	TicketID string
	// Reached is false when no one answered; Verdict is then zero.
	Reached bool
	Verdict ticket.Verdict
	Note    string
	// By is who called, for the record and the event.
	By Actor
}

// Actor is who records a call-back.
type Actor struct {
	ID, OrgUnitID, Name string
}

// callBackStore is what the call-backs need of storage.
type callBackStore interface {
	// CallBacks lists the drawn tickets of a department or area ("" for
	// all), those not yet called first, by close time.
	CallBacks(ctx context.Context, unit string, pendingOnly bool, limit int) ([]CallBack, error)
	// LockState reads and locks a ticket's state in the transaction.
	LockState(ctx context.Context, tx pgx.Tx, ticketID string) (State, error)
	// RecordCallBack stores a call-back, once per ticket (false when one
	// was recorded already), and its called_back event, in the transaction.
	RecordCallBack(ctx context.Context, tx pgx.Tx, st State, in CallBackInput, at time.Time) (bool, error)
}

// CallBacks lists the tickets drawn for a call-back in a department or area.
func (s *Service) CallBacks(ctx context.Context, unit string, pendingOnly bool, limit int) ([]CallBack, error) {
	if limit <= 0 {
		limit = 50
	}
	cbs, err := s.calls.CallBacks(ctx, unit, pendingOnly, limit)
	if err != nil {
		return nil, fmt.Errorf("call-backs of %s: %w", unit, err)
	}
	return cbs, nil
}

// RecordCallBack records a drawn ticket's call-back, once: mayRecord
// decides, on the ticket's state, whether the caller may; the outcome counts
// in the figures once its called_back event is projected.
func (s *Service) RecordCallBack(ctx context.Context, in CallBackInput, mayRecord func(State) error) (CallBack, error) {
	var out CallBack
	err := s.deps.DB.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		st, err := s.calls.LockState(ctx, tx, in.TicketID)
		if err != nil {
			return err
		}
		if err := mayRecord(st); err != nil {
			return err
		}
		if st.Status != ticket.Closed || st.M.CallBack == "" {
			return ErrNotDrawn
		}
		if st.M.CallBack != callBackDrawn {
			return ErrCalledBack
		}
		recorded, err := s.calls.RecordCallBack(ctx, tx, st, in, s.clock().Now())
		if err != nil {
			return err
		}
		if !recorded {
			return ErrCalledBack
		}
		out = CallBack{TicketID: st.TicketID, Number: st.Number, Category: st.Category, LeadDepartmentID: st.LeadDepartmentID,
			ClosedAt: st.M.ClosedAt, Done: true, Reached: in.Reached, Verdict: in.Verdict}
		return nil
	})
	if err != nil {
		return CallBack{}, fmt.Errorf("call-back of %s: %w", in.TicketID, err)
	}
	s.log.InfoContext(ctx, "call-back recorded", "ticket", in.TicketID, "reached", in.Reached, "verdict", int(in.Verdict))
	return out, nil
}
