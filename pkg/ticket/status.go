// Package ticket defines the ticket lifecycle that every Whistle service
// shares: the statuses, the actions that move a ticket between them, which
// service holds the ticket in each status, and the rule consumers use to order
// events about one ticket. It is plain Go with no dependencies, so every
// service's domain code can use it.
package ticket

import "fmt"

// Status is a ticket's place in its lifecycle. The numeric values equal the
// whistle.v1.TicketStatus enum, so converting between the two is a cast.
type Status int32

// The statuses of the lifecycle (see docs/architecture.md for the diagram).
const (
	// StatusUnknown is the zero value: a ticket a service has not heard of yet.
	StatusUnknown Status = iota
	// Reported means intake accepted the whistle; dispatch holds it.
	Reported
	// Triage means a person at the street must dispatch it by hand.
	Triage
	// Dispatched means a lead department was assigned and must report in.
	Dispatched
	// Accepted means the lead department reported in and is handling it.
	Accepted
	// Resolved means the lead department says it is done; evaluation is open.
	Resolved
	// Closed is final: the result was evaluated.
	Closed
	// Returned means a department said it is not theirs; dispatch re-routes it.
	Returned
	// Reopened means the evaluation was unsatisfied; the department reworks it.
	Reopened
	// Merged is final: the ticket duplicates another.
	Merged
	// Cancelled is final: the whistle was withdrawn.
	Cancelled
)

var statusNames = [...]string{
	StatusUnknown: "UNKNOWN",
	Reported:      "REPORTED",
	Triage:        "TRIAGE",
	Dispatched:    "DISPATCHED",
	Accepted:      "ACCEPTED",
	Resolved:      "RESOLVED",
	Closed:        "CLOSED",
	Returned:      "RETURNED",
	Reopened:      "REOPENED",
	Merged:        "MERGED",
	Cancelled:     "CANCELLED",
}

// Statuses lists every real status (without StatusUnknown), in enum order.
func Statuses() []Status {
	out := make([]Status, 0, len(statusNames)-1)
	for s := Reported; int(s) < len(statusNames); s++ {
		out = append(out, s)
	}
	return out
}

// String returns the status's upper-case name, e.g. "DISPATCHED".
func (s Status) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return fmt.Sprintf("Status(%d)", int32(s))
	}
	return statusNames[s]
}

// ParseStatus reads a status name as String writes it.
func ParseStatus(name string) (Status, error) {
	for i, n := range statusNames {
		if n == name && i != 0 {
			return Status(i), nil
		}
	}
	return StatusUnknown, fmt.Errorf("unknown ticket status %q", name)
}

// Valid reports whether s is a real status.
func (s Status) Valid() bool { return s > StatusUnknown && int(s) < len(statusNames) }

// Final reports whether nothing can happen to a ticket in status s any more.
func (s Status) Final() bool { return s == Closed || s == Merged || s == Cancelled }

// Holder names the service that holds a ticket in status s: the only service
// allowed to make the next transition. Passing the ticket from one holder to the
// next is what keeps ticket versions free of conflicts across services. Final
// statuses have no holder ("").
func (s Status) Holder() string {
	switch s {
	case Reported, Triage, Returned:
		return "dispatch"
	case Dispatched, Accepted, Reopened:
		return "response"
	case Resolved:
		return "evaluation"
	default:
		return ""
	}
}
