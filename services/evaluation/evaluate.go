package evaluation

import (
	"context"
	"fmt"
	"strings"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Judgement is a verdict given on a resolved ticket.
type Judgement struct {
	TicketID    string
	Verdict     Verdict
	Comment     string
	ReasonCodes []string
	Evaluator   Actor
}

// Evaluate gives the verdict for a ticket's open round: satisfied or basically
// satisfied closes the ticket; unsatisfied reopens it for rework by the same
// department.
func (s *Service) Evaluate(ctx context.Context, j Judgement) (Evaluation, error) {
	ctx, span := s.ticketSpan(ctx, "evaluation.evaluate", j.TicketID)
	defer span.End()
	var out Evaluation
	err := s.store.Update(ctx, j.TicketID, func(e *Evaluation) (ticket.Action, error) {
		if e.Round == 0 {
			return "", ErrNotFound
		}
		action, err := e.judge(j.Verdict, strings.TrimSpace(j.Comment), j.ReasonCodes, j.Evaluator, s.clock.Now())
		out = *e
		return action, err
	})
	if err != nil {
		return Evaluation{}, fmt.Errorf("evaluate %s: %w", j.TicketID, err)
	}
	s.log.InfoContext(ctx, "ticket evaluated", "ticket", j.TicketID, "round", out.Round, "verdict", int(out.Verdict))
	return out, nil
}
