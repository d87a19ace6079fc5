package evaluation

import (
	"context"
	"fmt"
	"strings"

	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Judgement is a verdict given on a resolved ticket.
type Judgement struct {
	TicketID    string
	Verdict     Verdict
	Comment     string
	ReasonCodes []string
	Evaluator   Actor
	// Source says who judges (default: the community); a resident gives Code.
	Source Source
	Code   string
}

// Evaluate gives the verdict for a ticket's open round: satisfied or basically
// satisfied closes the ticket; unsatisfied reopens it for rework by the same
// department, and past the rework limit also raises its supervision. The
// first verdict decides the round; later or repeated ones are refused.
func (s *Service) Evaluate(ctx context.Context, j Judgement) (Evaluation, error) {
	ctx, span := s.ticketSpan(ctx, "evaluation.evaluate", j.TicketID)
	defer span.End()
	var out Evaluation
	if j.Source == 0 {
		j.Source = SourceCommunity
	}
	codeHash := ""
	if j.Code != "" {
		codeHash = ids.CodeHash(j.Code)
	}
	err := s.store.Update(ctx, j.TicketID, func(e *Evaluation) (ticket.Action, error) {
		if e.Round == 0 {
			return "", ErrNotFound
		}
		if err := e.mayJudge(j.Source, j.Evaluator, codeHash); err != nil {
			return "", err
		}
		action, err := e.judge(j.Verdict, strings.TrimSpace(j.Comment), j.ReasonCodes, j.Evaluator, j.Source, s.clock.Now())
		e.escalate = action == ticket.Reopen && e.Round > s.cfg.MaxReworks
		out = *e
		return action, err
	})
	if err != nil {
		return Evaluation{}, fmt.Errorf("evaluate %s: %w", j.TicketID, err)
	}
	s.log.InfoContext(ctx, "ticket evaluated", "ticket", j.TicketID, "round", out.Round, "verdict", int(out.Verdict))
	return out, nil
}
