package ticket

import (
	"errors"
	"fmt"
)

// Action is something that moves a ticket to another status. Each action is
// announced by the event of the same name ("dispatch" by "dispatched").
type Action string

// The actions of the lifecycle.
const (
	// Report creates a ticket (intake).
	Report Action = "report"
	// SendToTriage hands a ticket to a person for dispatch by hand (dispatch).
	SendToTriage Action = "triage"
	// Dispatch assigns a lead department (dispatch).
	Dispatch Action = "dispatch"
	// Arbitrate assigns a department by a binding decision (dispatch).
	Arbitrate Action = "arbitrate"
	// Accept reports the lead department in (response).
	Accept Action = "accept"
	// Return refuses an assignment (response).
	Return Action = "return"
	// Resolve records the department's result (response).
	Resolve Action = "resolve"
	// Reopen sends a resolved ticket back for rework (evaluation).
	Reopen Action = "reopen"
	// Close ends a resolved ticket (evaluation).
	Close Action = "close"
	// Merge links a duplicate to its original (intake).
	Merge Action = "merge"
	// Cancel withdraws a whistle (intake).
	Cancel Action = "cancel"
)

// transitions is the whole state machine: for each action, the statuses it may
// start from and the status it leads to. StatusUnknown as a source means "a
// ticket that does not exist yet".
var transitions = map[Action]struct {
	from []Status
	to   Status
}{
	Report:       {from: []Status{StatusUnknown}, to: Reported},
	SendToTriage: {from: []Status{Reported, Returned}, to: Triage},
	Dispatch:     {from: []Status{Reported, Triage, Returned}, to: Dispatched},
	Arbitrate:    {from: []Status{Triage, Returned}, to: Dispatched},
	Accept:       {from: []Status{Dispatched}, to: Accepted},
	Return:       {from: []Status{Dispatched, Accepted}, to: Returned},
	Resolve:      {from: []Status{Accepted, Reopened}, to: Resolved},
	Reopen:       {from: []Status{Resolved}, to: Reopened},
	Close:        {from: []Status{Resolved}, to: Closed},
	Merge:        {from: []Status{Reported, Triage, Dispatched}, to: Merged},
	Cancel:       {from: []Status{Reported, Triage, Dispatched, Accepted, Returned, Reopened}, to: Cancelled},
}

// Actions lists every action, in a stable order.
func Actions() []Action {
	return []Action{Report, SendToTriage, Dispatch, Arbitrate, Accept, Return, Resolve, Reopen, Close, Merge, Cancel}
}

// ErrInvalidTransition is wrapped by every TransitionError.
var ErrInvalidTransition = errors.New("invalid ticket transition")

// TransitionError says that an action is not allowed in a status.
type TransitionError struct {
	// From is the status the ticket is in.
	From Status
	// Action is what was attempted.
	Action Action
}

// Error names the status and the action, and what the status allows instead.
func (e *TransitionError) Error() string {
	if e.From == StatusUnknown {
		return fmt.Sprintf("cannot %s a ticket that does not exist", e.Action)
	}
	allowed := Allowed(e.From)
	if len(allowed) == 0 {
		return fmt.Sprintf("cannot %s a %s ticket: it is final", e.Action, e.From)
	}
	return fmt.Sprintf("cannot %s a %s ticket (allowed: %v)", e.Action, e.From, allowed)
}

// Unwrap makes errors.Is(err, ErrInvalidTransition) true.
func (e *TransitionError) Unwrap() error { return ErrInvalidTransition }

// Next returns the status that action a leads to from status from, or a
// *TransitionError when the action is not allowed there (or is unknown).
func Next(from Status, a Action) (Status, error) {
	t, ok := transitions[a]
	if !ok {
		return from, &TransitionError{From: from, Action: a}
	}
	for _, s := range t.from {
		if s == from {
			return t.to, nil
		}
	}
	return from, &TransitionError{From: from, Action: a}
}

// Target returns the status action a leads to, from wherever it is allowed
// (StatusUnknown for an unknown action). A consumer that sees only some of a
// ticket's transitions uses it to follow a transition made elsewhere without
// judging it by its own, possibly older, view of the status.
func Target(a Action) Status {
	return transitions[a].to
}

// Allowed lists the actions allowed from status s, in Actions order.
func Allowed(s Status) []Action {
	var out []Action
	for _, a := range Actions() {
		if _, err := Next(s, a); err == nil {
			out = append(out, a)
		}
	}
	return out
}
