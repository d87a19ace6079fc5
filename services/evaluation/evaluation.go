package evaluation

import (
	"context"
	"time"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Verdict is an evaluation's judgement; values equal whistle.v1.Verdict.
type Verdict int32

// The verdicts.
const (
	Satisfied          Verdict = 1
	BasicallySatisfied Verdict = 2
	Unsatisfied        Verdict = 3
)

// Closes reports whether the verdict closes the ticket (otherwise it reopens it).
func (v Verdict) Closes() bool { return v == Satisfied || v == BasicallySatisfied }

// State says whether a round waits for a verdict; values equal whistle.v1.EvaluationState.
type State int32

// The states of a round.
const (
	Open State = 1
	Done State = 2
)

// Actor is who evaluates: a person acting for an org unit.
type Actor struct {
	ID, OrgUnitID, Name string
}

// Evaluation is one round of judging a resolved ticket. A ticket gets a new
// round each time it is resolved.
type Evaluation struct {
	TicketID, Number string
	Round            int32
	State            State
	// Version is the ticket version evaluation knows: the resolved event's,
	// then its own closed or reopened event's.
	Version      int64
	DepartmentID string
	Result       string
	OpenedAt     time.Time
	Verdict      Verdict
	Comment      string
	ReasonCodes  []string
	Evaluator    Actor
	EvaluatedAt  time.Time
	Synthetic    bool
	TraceParent  string
	// ReporterOrgUnitID is who reported the ticket, once evaluation has heard.
	ReporterOrgUnitID string
}

// rounds is what the use cases need from storage: Update locks a ticket's
// latest round (zero if none), lets fn change it and saves it with the events
// announcing the action fn returns ("" for none), atomically.
type rounds interface {
	Update(ctx context.Context, ticketID string, fn func(e *Evaluation) (ticket.Action, error)) error
	Get(ctx context.Context, ticketID string) (Evaluation, error)
	ListOpen(ctx context.Context, f OpenFilter) ([]Evaluation, error)
	SaveReporter(ctx context.Context, ticketID, orgUnitID string) error
	TraceParent(ctx context.Context, ticketID string) string
}

// judge records a verdict on an open round at now and returns the action it
// leads to: close or reopen.
func (e *Evaluation) judge(v Verdict, comment string, reasons []string, by Actor, now time.Time) (ticket.Action, error) {
	if e.State != Open {
		return "", ErrAlreadyEvaluated
	}
	action := ticket.Reopen
	if v.Closes() {
		action = ticket.Close
	}
	if _, err := ticket.Next(ticket.Resolved, action); err != nil {
		return "", err
	}
	e.State, e.Verdict, e.Comment, e.ReasonCodes, e.Evaluator, e.EvaluatedAt = Done, v, comment, reasons, by, now
	e.Version++
	return action, nil
}
