package ticket

// Decision is what a consumer does with an event about a ticket, given the
// ticket version it knows.
type Decision int

const (
	// Apply means the event is next: apply it.
	Apply Decision = iota + 1
	// Stale means the event is from the past: acknowledge it and change nothing.
	Stale
	// Later means the event is from the future: something before it has not
	// arrived yet, so negatively acknowledge it with a delay and try again.
	Later
)

// String names the decision.
func (d Decision) String() string {
	switch d {
	case Apply:
		return "apply"
	case Stale:
		return "stale"
	case Later:
		return "later"
	default:
		return "unknown"
	}
}

// Ordering is how strictly a consumer orders one ticket's events.
type Ordering int

const (
	// Monotonic is for consumers that see only some of a ticket's transitions
	// (every service but monitoring): a transition newer than the known version
	// applies, an older or equal one is stale. Such a consumer learns the true
	// version when the ticket is handed to it, because the event that hands it
	// over carries that version.
	Monotonic Ordering = iota + 1
	// Contiguous is for consumers that see every transition (monitoring): a
	// transition applies only when it is exactly the next version; a gap means
	// an earlier event is still on its way, so the later one waits. Annotations
	// wait until the version they name is known.
	Contiguous
)

// Order decides what to do with an event that names version v, for a consumer
// that knows version known of the ticket (0 when it has never seen it).
// Transition events produced v; annotations (progress, escalation, evaluation,
// extensions) happened at v.
func Order(o Ordering, known, v int64, transition bool) Decision {
	if !transition {
		if o == Contiguous && v > known {
			return Later
		}
		return Apply
	}
	switch {
	case v <= known:
		return Stale
	case o == Contiguous && v > known+1:
		return Later
	default:
		return Apply
	}
}
