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
	// Caller is who calls, as authenticated; Evaluator whom the verdict is
	// recorded as given by (a resident's is "resident", whatever they send).
	Caller    Caller
	Evaluator Actor
	// Source says who judges (default: the community); a resident gives Code.
	Source Source
	Code   string
}

// TryCode counts a resident's try of an evaluation code on a ticket, in a
// transaction of its own that commits even when the code is wrong: a wrong
// code fails with ErrBadCode and counts, and after Config.MaxCodeFailures of
// them the ticket's code is locked (ErrCodeLocked) — for every caller, so
// that guessing is hopeless, while other tickets' residents are unaffected.
// Call it before Evaluate, outside any transaction (an idempotent call's
// would roll the count back).
func (s *Service) TryCode(ctx context.Context, ticketID, code string) error {
	if s.cfg.Codes == nil {
		return fmt.Errorf("evaluation code for %s: %w", ticketID, ErrCodesOff)
	}
	var refused error
	err := s.store.Update(ctx, ticketID, func(e *Evaluation) (ticket.Action, error) {
		if e.Round == 0 {
			return "", ErrNotFound
		}
		refused = e.tryCode(s.cfg.Codes.Check(ticketID, code), s.cfg.MaxCodeFailures)
		return "", nil
	})
	if err == nil {
		err = refused
	}
	if err != nil {
		return fmt.Errorf("evaluation code for %s: %w", ticketID, err)
	}
	return nil
}

// Evaluate gives the verdict for a ticket's open round: satisfied or basically
// satisfied closes the ticket; unsatisfied reopens it for rework by the same
// department, and past the rework limit also raises its supervision. The
// first verdict decides the round; later or repeated ones are refused. A
// resident's verdict needs the ticket's code (tried first with TryCode),
// once per round.
func (s *Service) Evaluate(ctx context.Context, j Judgement) (Evaluation, error) {
	ctx, span := s.ticketSpan(ctx, "evaluation.evaluate", j.TicketID)
	defer span.End()
	var out Evaluation
	if j.Source == 0 {
		j.Source = SourceCommunity
	}
	if j.Caller.Resident {
		j.Evaluator = Actor{ID: "resident"}
		if s.cfg.Codes == nil {
			return Evaluation{}, fmt.Errorf("evaluate %s: %w", j.TicketID, ErrCodesOff)
		}
	}
	err := s.store.Update(ctx, j.TicketID, func(e *Evaluation) (ticket.Action, error) {
		if e.Round == 0 {
			return "", ErrNotFound
		}
		if err := e.mayJudge(j.Caller, j.Source, j.Evaluator); err != nil {
			return "", err
		}
		if j.Caller.Resident {
			if !s.cfg.Codes.Check(j.TicketID, j.Code) {
				return "", ErrBadCode
			}
			if err := e.useCode(); err != nil {
				return "", err
			}
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
