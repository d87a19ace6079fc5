package intake

import (
	"fmt"
	"time"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// StepAction is one step of an imported ticket's history; values equal
// whistle.v1.ImportedAction.
type StepAction int32

// The steps a history may hold.
const (
	StepDispatched StepAction = 1
	StepAccepted   StepAction = 2
	StepReturned   StepAction = 3
	StepArbitrated StepAction = 4
	StepEscalated  StepAction = 5
	StepResolved   StepAction = 6
	StepEvaluated  StepAction = 7
	StepCancelled  StepAction = 8
)

// stepActions are the lifecycle moves of the steps that are transitions;
// escalated and evaluated are annotations (an evaluation's close or reopen
// follows from its verdict).
var stepActions = map[StepAction]ticket.Action{
	StepDispatched: ticket.Dispatch, StepAccepted: ticket.Accept, StepReturned: ticket.Return,
	StepArbitrated: ticket.Arbitrate, StepResolved: ticket.Resolve, StepCancelled: ticket.Cancel,
}

// Step is one thing that happened to an imported ticket.
type Step struct {
	Action StepAction
	At     time.Time
	// Actor is who did it; zero for the department or the system the ticket came from.
	Actor                 Actor
	Department            string
	AcceptDue, ResolveDue time.Time
	Note                  string
	// Verdict and EvaluationSource of an evaluation (values of whistle.v1.Verdict
	// and EvaluationSource).
	Verdict, EvaluationSource int32
	EscalationLevel           int32
	EscalationStage           string
	ReturnReason              int32
	Withdrawn                 bool
}

// Actor is who did something.
type Actor struct{ ID, OrgUnitID, Name string }

// The verdicts and evaluation sources the rules tell apart.
const (
	verdictUnsatisfied = 3
	sourceCommunity    = 1
	sourceDefault      = 4
)

// Happening is one event of an imported ticket's life, in order: the step
// it comes from (nil for the report), the event type it raises, the version
// it produces or happens at, and what the rules derived (the lead
// department, the round, the reworks).
type Happening struct {
	Type    string
	Version int64
	At      time.Time
	Step    *Step
	Lead    string
	Round   int32
	Reworks int32
	Default bool
}

// Problem is why one imported ticket cannot be brought in.
type Problem struct {
	Line       int64
	ExternalID string
	Field      string
	Reason     string
}

// unitLevels tells an org unit's level ("" when the tree does not hold it).
type unitLevels func(id string) string

// replay checks a history against the lifecycle (pkg/ticket) and returns the
// events it raises, oldest first, or the first problem: steps out of time
// order or after now, a move the lifecycle does not allow, a department the
// org tree does not hold, missing deadlines or verdicts, a history that does
// not end in a final status.
func replay(reportedAt time.Time, steps []Step, now time.Time, level unitLevels) ([]Happening, *Problem) {
	out := []Happening{{Type: "reported", Version: 1, At: reportedAt}}
	status, version, lead := ticket.Reported, int64(1), ""
	var round, reworks int32
	prev := reportedAt
	for i := range steps {
		st := &steps[i]
		field := fmt.Sprintf("history[%d]", i)
		if p := checkStep(st, field, prev, now, lead, level); p != nil {
			return nil, p
		}
		prev = st.At
		if st.Department == "" && st.Action != StepDispatched && st.Action != StepArbitrated {
			st.Department = lead
		}
		h := Happening{At: st.At, Step: st, Version: version, Lead: lead, Round: round, Reworks: reworks}
		switch st.Action {
		case StepEscalated:
			if status.Final() {
				return nil, &Problem{Field: field + ".action", Reason: "an escalation after the ticket ended: drop it or move it before the end"}
			}
			h.Type = "escalated"
			out = append(out, h)
			continue
		case StepEvaluated:
			if status != ticket.Resolved {
				return nil, &Problem{Field: field + ".action", Reason: fmt.Sprintf("an evaluation of a %s ticket: a verdict judges a resolved one", status)}
			}
			round++
			h.Type, h.Round = "evaluated", round
			out = append(out, h)
			next := Happening{Type: "closed", At: st.At, Step: st, Lead: lead, Round: round, Reworks: reworks,
				Default: st.EvaluationSource == sourceDefault}
			action := ticket.Close
			if st.Verdict == verdictUnsatisfied && !next.Default {
				reworks++
				next.Type, next.Reworks, action = "reopened", reworks, ticket.Reopen
			}
			var err error
			if status, err = ticket.Next(status, action); err != nil {
				return nil, &Problem{Field: field + ".action", Reason: err.Error()}
			}
			version++
			next.Version = version
			out = append(out, next)
			continue
		}
		var err error
		if status, err = ticket.Next(status, stepActions[st.Action]); err != nil {
			return nil, &Problem{Field: field + ".action", Reason: err.Error()}
		}
		version++
		switch st.Action {
		case StepDispatched, StepArbitrated:
			lead = st.Department
		case StepReturned:
			lead = ""
		}
		h.Type, h.Version, h.Lead = stepTypes[st.Action], version, lead
		if st.Action == StepReturned {
			h.Lead = st.Department
		}
		out = append(out, h)
	}
	if !status.Final() {
		return nil, &Problem{Field: "history", Reason: fmt.Sprintf(
			"the history ends with the ticket %s: only finished tickets (closed by a verdict, or cancelled) are imported; let the old system finish it, or report it anew", status)}
	}
	return out, nil
}

// stepTypes names the event each transition step raises.
var stepTypes = map[StepAction]string{
	StepDispatched: "dispatched", StepAccepted: "accepted", StepReturned: "returned",
	StepArbitrated: "arbitrated", StepResolved: "resolved", StepCancelled: "cancelled",
}

// checkStep checks what one step must say by itself.
func checkStep(st *Step, field string, prev, now time.Time, lead string, level unitLevels) *Problem {
	bad := func(f, reason string) *Problem { return &Problem{Field: field + f, Reason: reason} }
	switch {
	case st.At.Before(prev):
		return bad(".at", fmt.Sprintf("%s is before the step (or report) before it, at %s: list the steps oldest first",
			st.At.Format(time.RFC3339), prev.Format(time.RFC3339)))
	case !st.At.Before(now):
		return bad(".at", "is not in the past: only what already happened is imported")
	}
	if st.Department != "" && level(st.Department) != "department" {
		return bad(".department_id", fmt.Sprintf("%q is not a department of the active org tree (whistlectl catalog show lists them)", st.Department))
	}
	switch st.Action {
	case StepDispatched, StepArbitrated:
		if st.Department == "" {
			return bad(".department_id", "a dispatch or arbitration names the department it assigns")
		}
		if st.AcceptDue.IsZero() || st.ResolveDue.IsZero() {
			return bad(".accept_due", "a dispatch or arbitration gives its deadlines (accept_due and resolve_due): the figures judge \"on time\" by them")
		}
	case StepAccepted, StepResolved, StepReturned:
		if st.Department != "" && st.Department != lead {
			return bad(".department_id", fmt.Sprintf("%q is not the lead department (%q): only the lead accepts, returns or resolves", st.Department, lead))
		}
		if st.Action == StepReturned && st.ReturnReason == 0 {
			return bad(".return_reason", "a return gives its reason")
		}
	case StepEscalated:
		if st.EscalationLevel < 1 || st.EscalationStage == "" {
			return bad(".escalation_level", "an escalation gives its level (1 to 3) and the deadline it missed (escalation_stage accept or resolve)")
		}
	case StepEvaluated:
		if st.Verdict == 0 {
			return bad(".verdict", "an evaluation gives its verdict")
		}
		if st.EvaluationSource == 0 {
			st.EvaluationSource = sourceCommunity
		}
	}
	return nil
}
