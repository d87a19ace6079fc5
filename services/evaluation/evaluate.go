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
	// CodeFor is the ticket the code was given for, when it is not TicketID:
	// a duplicate merged into TicketID (see Original).
	CodeFor string
	// Photos show what is still wrong; an unsatisfied verdict only
	// (ErrPhotosSatisfied otherwise).
	Photos []Photo
}

// TryCode counts a resident's try of an evaluation code on a ticket, in a
// transaction of its own that commits even when the code is wrong: a wrong
// code fails with ErrBadCode and counts, and after Config.MaxCodeFailures of
// them the ticket's code is locked (ErrCodeLocked) — for every caller, so
// that guessing is hopeless, while other tickets' residents are unaffected.
// Call it before Evaluate, outside any transaction (an idempotent call's
// would roll the count back).
//
// codeFor is the ticket the code was given for: ticketID itself, or a
// duplicate merged into it (see Original).
func (s *Service) TryCode(ctx context.Context, ticketID, codeFor, code string) error {
	if s.cfg.Codes == nil {
		return fmt.Errorf("evaluation code for %s: %w", ticketID, ErrCodesOff)
	}
	var refused error
	err := s.store.Update(ctx, ticketID, func(e *Evaluation) (ticket.Action, error) {
		if e.Round == 0 {
			return "", ErrNotFound
		}
		refused = e.tryCode(s.cfg.Codes.Check(codeFor, code), s.cfg.MaxCodeFailures)
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

// maxMergeHops bounds how far Original follows merges (an original merged
// in turn, a rare chain).
const maxMergeHops = 8

// Original returns the ticket whose result a verdict on ticketID judges:
// ticketID itself, or, for a duplicate merged into another ticket (同一事项),
// the original it follows (the end of the chain, if the original was merged
// in turn).
func (s *Service) Original(ctx context.Context, ticketID string) (string, error) {
	id := ticketID
	for range maxMergeHops {
		into, err := s.store.MergedInto(ctx, id)
		if err != nil {
			return "", fmt.Errorf("original of %s: %w", ticketID, err)
		}
		if into == "" {
			return id, nil
		}
		id = into
	}
	return id, nil
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
			codeFor := j.CodeFor
			if codeFor == "" {
				codeFor = j.TicketID
			}
			if !s.cfg.Codes.Check(codeFor, j.Code) {
				return "", ErrBadCode
			}
			if err := e.useCode(); err != nil {
				return "", err
			}
		}
		if len(j.Photos) > 0 && j.Verdict != Unsatisfied {
			return "", ErrPhotosSatisfied
		}
		action, err := e.judge(j.Verdict, strings.TrimSpace(j.Comment), j.ReasonCodes, j.Evaluator, j.Source, s.clock.Now())
		e.escalate, e.photos, e.callBack = action == ticket.Reopen && e.Round > s.cfg.MaxReworks, j.Photos, s.drawCallBack(action)
		out = *e
		return action, err
	})
	if err != nil {
		return Evaluation{}, fmt.Errorf("evaluate %s: %w", j.TicketID, err)
	}
	s.log.InfoContext(ctx, "ticket evaluated", "ticket", j.TicketID, "round", out.Round, "verdict", int(out.Verdict))
	return out, nil
}
