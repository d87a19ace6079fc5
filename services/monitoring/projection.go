package monitoring

import (
	"context"
	"time"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// State is a ticket's current state as the projection sees it, and what it
// remembers to count the ticket's figures exactly once.
type State struct {
	TicketID, Number string
	Status           ticket.Status
	Version          int64
	EscalationLevel  int32
	LeadDepartmentID string
	Category         string
	ReworkCount      int32
	Synthetic        bool
	ReportedAt       time.Time
	UpdatedAt        time.Time
	TraceID          string
	// Area lists the org units the ticket lies in, grid up to city.
	Area []string
	// Overdue is set while the ticket is past the deadline of OverdueStage
	// ("accept" or "resolve"), which fell at StageDue.
	Overdue      bool
	OverdueStage string
	StageDue     time.Time
	// M is the counting memory.
	M Memory
}

// Memory is what the figures need to count each fact once per ticket.
type Memory struct {
	Grid   string `json:"grid,omitempty"`
	Source int32  `json:"source,omitempty"`
	// Imported is set for a ticket brought in with its history: its hot
	// spots are recorded, never announced (they would have fired in the past).
	Imported bool `json:"imported,omitempty"`
	// Routed is set once dispatch routed the ticket (dispatched or triaged):
	// the area is known and the ticket is counted as reported there.
	Routed bool `json:"routed,omitempty"`
	// MergedInto is the original a duplicate was merged into.
	MergedInto     string    `json:"merged_into,omitempty"`
	DispatchedAt   time.Time `json:"dispatched_at,omitzero"`
	AcceptedAt     time.Time `json:"accepted_at,omitzero"`
	ResolvedAt     time.Time `json:"resolved_at,omitzero"`
	LastResolvedAt time.Time `json:"last_resolved_at,omitzero"`
	AcceptDue      time.Time `json:"accept_due,omitzero"`
	ResolveDue     time.Time `json:"resolve_due,omitzero"`
	DueCounted     bool      `json:"due_counted,omitempty"`
	Reopened       bool      `json:"reopened,omitempty"`
	// AcceptDueCounted, CloseDueCounted and Judged say accept_due,
	// close_due and judged were counted in the areas; DeptsAcceptDue lists
	// the departments accept_due was counted for.
	AcceptDueCounted bool     `json:"accept_due_counted,omitempty"`
	CloseDueCounted  bool     `json:"close_due_counted,omitempty"`
	Judged           bool     `json:"judged,omitempty"`
	DeptsAcceptDue   []string `json:"depts_accept_due,omitempty"`
	// Depts are the departments the ticket was assigned to; DeptsAccepted
	// those that accepted it.
	Depts         []string `json:"depts,omitempty"`
	DeptsAccepted []string `json:"depts_accepted,omitempty"`
	// ClosedAt is when the ticket closed; Repeated is set once a report
	// repeated it (counted once).
	ClosedAt time.Time `json:"closed_at,omitzero"`
	Repeated bool      `json:"repeated,omitempty"`
	// CallBack is "drawn" for a closed ticket drawn for a hotline call-back,
	// "reached", "satisfied" or "unreached" once it was called (counted once).
	CallBack string `json:"call_back,omitempty"`
}

// The states of a ticket's call-back (Memory.CallBack).
const (
	callBackDrawn     = "drawn"
	callBackUnreached = "unreached"
	callBackReached   = "reached"
	callBackSatisfied = "satisfied"
)

// Entry is one event in a ticket's timeline.
type Entry struct {
	EventID    string
	EventType  string
	Version    int64
	Transition bool
	OccurredAt time.Time
	ActorID    string
	ActorOrg   string
	ActorName  string
	Producer   string
	TraceID    string
	Status     ticket.Status
	Summary    string
}

// Change is what one event says about a ticket, in plain values.
type Change struct {
	Entry Entry
	// Action is the lifecycle move of a transition event ("" for annotations).
	Action ticket.Action
	// Facts the event carries (zero when absent).
	Number, Category, LeadDepartmentID string
	ReportedAt                         time.Time
	Synthetic                          bool
	EscalationLevel, ReworkCount       int32
	// Area comes with routing events (dispatched, triaged).
	Area []string
	// Department is the department that acted or was judged.
	Department string
	// New deadlines (dispatched, arbitrated, rescheduled, a granted extension).
	AcceptDue, ResolveDue time.Time
	// Stage is the overdue stage of an escalation: accept, resolve or rework.
	Stage string
	// A real verdict (not a default one) and whether it counts as satisfied.
	Evaluated, Satisfied bool
	// DefaultClose marks a close by the default verdict.
	DefaultClose bool
	// Withdrawn marks a cancellation by the reporter; MergedInto is the
	// original a duplicate was merged into.
	Withdrawn  bool
	MergedInto string
	// Reported facts: where, through which channel, and for proactive
	// tickets the idempotency key that names their hot spot.
	Grid, IdempotencyKey string
	Source               int32
	// Historical marks an event of an imported ticket's history.
	Historical bool
	// CallBack marks a close drawn for a hotline call-back; CalledBack
	// carries a call-back's outcome (reached, and a satisfied verdict).
	CallBack   bool
	CalledBack *CallBackOutcome
}

// CallBackOutcome is what a hotline call-back found.
type CallBackOutcome struct {
	Reached, Satisfied bool
}

// Duplicate is a ticket merged into another as the same matter.
type Duplicate struct {
	TicketID, Number string
}

// projections is what the use cases need from storage: Update locks a
// ticket's state (zero if new), lets fn change it and, when fn returns an
// entry, records it with the state and the effects on figures, atomically.
type projections interface {
	// Enter lets live projection into the transaction ctx carries, or fails
	// with errGateClosed while a rebuild runs.
	Enter(ctx context.Context) error
	Update(ctx context.Context, ticketID string, fn func(st *State) (*Entry, Effects, error)) error
	Timeline(ctx context.Context, ticketID string) (State, []Entry, error)
	// Duplicates returns the tickets merged into a ticket, oldest first.
	Duplicates(ctx context.Context, ticketID string) ([]Duplicate, error)
	Counts(ctx context.Context, includeSynthetic bool) (map[ticket.Status]int64, error)
	// LockStates, SaveSet and LockPlaces are Update for a batch of events
	// (see projectSet).
	LockStates(ctx context.Context, ids []string) (map[string]State, error)
	SaveSet(ctx context.Context, w *setWrite, states map[string]State) error
	LockPlaces(ctx context.Context, places []string) error
}
