package evaluation

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Verdict is an evaluation's judgement (pkg/ticket's); values equal
// whistle.v1.Verdict. A satisfied one (Verdict.Satisfied) closes the ticket,
// another reopens it.
type Verdict = ticket.Verdict

// The verdicts.
const (
	Satisfied          = ticket.Satisfied
	BasicallySatisfied = ticket.BasicallySatisfied
	Unsatisfied        = ticket.Unsatisfied
)

// State says whether a round waits for a verdict; values equal whistle.v1.EvaluationState.
type State int32

// The states of a round.
const (
	Open State = 1
	Done State = 2
)

// Source says who gave a verdict; values equal whistle.v1.EvaluationSource.
type Source int32

// The sources.
const (
	SourceCommunity Source = 1
	SourceResident  Source = 2
	SourceHotline   Source = 3
	SourceDefault   Source = 4
)

// Actor is who evaluates: a person acting for an org unit.
type Actor struct {
	ID, OrgUnitID, Name string
}

// Photo is a file an evaluator attaches to an unsatisfied verdict: one
// uploaded to intake (MediaID) or kept elsewhere (URL).
type Photo struct {
	Name, SHA256, MediaID, URL string
	Size                       int64
}

// Caller is what the API edge established about who calls: never what a
// request claims.
type Caller struct {
	// OrgUnitID is the org unit the caller's credentials act for ("" for a resident).
	OrgUnitID string
	// Community: the caller is a community officer (may give the community's verdict).
	Community bool
	// Hotline: the caller is a hotline or another government system (may
	// record a follow-up call's verdict).
	Hotline bool
	// Resident: the caller has no credentials, only the ticket's evaluation
	// code (may give the resident's verdict, with the right code).
	Resident bool
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
	// Source says who judged; DefaultVerdict marks a verdict applied because
	// nobody judged before DueAt, the end of the evaluation window.
	Source         Source
	DefaultVerdict bool
	DueAt          time.Time
	// Who may evaluate, once evaluation has heard: the reporting org unit
	// and the ticket's area (grid up to city).
	ReporterOrgUnitID string
	Area              []string
	// CodeFailures counts wrong evaluation codes tried on the ticket, in any
	// round; CodeUsedRound is the round its code last gave the verdict of.
	CodeFailures, CodeUsedRound int32
	// escalate is set on an unsatisfied verdict past the rework limit (not stored).
	escalate bool
	// callBack is set on a close drawn for a hotline call-back (not stored:
	// the closed event carries it).
	callBack bool
	// photos go with the verdict in its event (not stored: intake keeps them).
	photos []Photo
	// announced is when the round was opened, set only by the change that
	// opens it, which then announces it (not stored).
	announced time.Time
}

// rounds is what the use cases need from storage: Update locks a ticket's
// latest round (zero if none), lets fn change it and saves it with the events
// announcing the action fn returns ("" for none) or the round fn opened,
// atomically.
type rounds interface {
	Update(ctx context.Context, ticketID string, fn func(e *Evaluation) (ticket.Action, error)) error
	Get(ctx context.Context, ticketID string) (Evaluation, error)
	ListOpen(ctx context.Context, f OpenFilter) ([]Evaluation, error)
	SaveReporter(ctx context.Context, ticketID, orgUnitID string) error
	SaveArea(ctx context.Context, ticketID string, area []string) error
	// SaveMergedInto records a duplicate's original; MergedInto reads it ("" for none).
	SaveMergedInto(ctx context.Context, ticketID, originalID string) error
	MergedInto(ctx context.Context, ticketID string) (string, error)
	// EachDue applies fn to up to limit open rounds whose window closed by now,
	// each locked against other replicas, and returns how many.
	EachDue(ctx context.Context, now time.Time, limit int, fn func(e *Evaluation) (ticket.Action, error)) (int, error)
	TraceParent(ctx context.Context, ticketID string) string
	// LockLatest reads and locks many tickets' latest rounds in the
	// transaction ctx carries; SaveSet writes what a batch changed, in it.
	LockLatest(ctx context.Context, ids []string) (map[string]*Evaluation, error)
	SaveSet(ctx context.Context, w batchWrite) error
}

// judge records a verdict on an open round at now and returns the action it
// leads to: close or reopen.
func (e *Evaluation) judge(v Verdict, comment string, reasons []string, by Actor, src Source, now time.Time) (ticket.Action, error) {
	if e.State != Open {
		return "", ErrAlreadyEvaluated
	}
	if src != SourceDefault && !e.DueAt.IsZero() && now.After(e.DueAt) {
		return "", ErrWindowClosed
	}
	action := ticket.Reopen
	if v.Satisfied() {
		action = ticket.Close
	}
	if _, err := ticket.Next(ticket.Resolved, action); err != nil {
		return "", err
	}
	e.State, e.Verdict, e.Comment, e.ReasonCodes, e.Evaluator, e.EvaluatedAt = Done, v, comment, reasons, by, now
	e.Source, e.DefaultVerdict = src, src == SourceDefault
	e.Version++
	return action, nil
}

// mayJudge checks that the caller may give the round's verdict from src,
// naming by: the reporting community's officer (the reporting org unit, or
// the grid or community the ticket lies in) for the community's verdict, a
// hotline or government system for a follow-up call's, the resident alone —
// without credentials, with the ticket's code, checked by checkCode — for
// the resident's. The department judged never judges itself.
func (e *Evaluation) mayJudge(c Caller, src Source, by Actor) error {
	if c.OrgUnitID != "" && (c.OrgUnitID == e.DepartmentID || by.OrgUnitID == e.DepartmentID) {
		return ErrOwnTicket
	}
	if c.Resident != (src == SourceResident) {
		return ErrResidentOnly
	}
	switch src {
	case SourceResident:
		return nil
	case SourceCommunity:
		if c.Community && (by.OrgUnitID == e.ReporterOrgUnitID || (len(e.Area) >= 2 && slices.Contains(e.Area[:2], by.OrgUnitID))) {
			return nil
		}
	case SourceHotline:
		if c.Hotline {
			return nil
		}
		return ErrNotHotline
	}
	return ErrNotEvaluator
}

// tryCode counts a resident's try of a code on the ticket: refused once the
// code is locked after maxFailures wrong tries; a wrong code counts as a
// failure, which the caller stores even though it refuses the verdict.
func (e *Evaluation) tryCode(right bool, maxFailures int32) error {
	switch {
	case e.CodeFailures >= maxFailures:
		return ErrCodeLocked
	case !right:
		e.CodeFailures++
		return fmt.Errorf("%w (%d of %d wrong tries before the code is locked)", ErrBadCode, e.CodeFailures, maxFailures)
	}
	return nil
}

// useCode spends the right code on the round's verdict: once per round.
func (e *Evaluation) useCode() error {
	if e.CodeUsedRound == e.Round {
		return ErrCodeUsed
	}
	e.CodeUsedRound = e.Round
	return nil
}
