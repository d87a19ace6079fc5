package ticket

// Verdict is an evaluation's judgement of how a ticket was handled; the
// values equal whistle.v1.Verdict, so converting between the two is a cast.
type Verdict int32

// The verdicts.
const (
	VerdictUnknown     Verdict = 0
	Satisfied          Verdict = 1
	BasicallySatisfied Verdict = 2
	Unsatisfied        Verdict = 3
)

// Satisfied reports whether a verdict counts as satisfied: it closes the
// ticket, and the satisfaction rate counts it (satisfied or basically
// satisfied; unsatisfied sends the ticket back for rework). This is the one
// place the rule is written.
func (v Verdict) Satisfied() bool { return v == Satisfied || v == BasicallySatisfied }
