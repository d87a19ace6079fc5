package monitoring

import (
	"context"
	"time"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// State is a ticket's current state as the projection sees it.
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
}

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
	// Facts the event carries that the state keeps (zero when absent).
	Number, Category, LeadDepartmentID string
	ReportedAt                         time.Time
	Synthetic                          bool
	EscalationLevel, ReworkCount       int32
}

// projections is what the use cases need from storage: Update locks a
// ticket's state (zero if new), lets fn change it and, when fn returns an
// entry, records it with the state and counts, atomically.
type projections interface {
	Update(ctx context.Context, ticketID string, fn func(st *State) (*Entry, error)) error
	Timeline(ctx context.Context, ticketID string) (State, []Entry, error)
	Counts(ctx context.Context, includeSynthetic bool) (map[ticket.Status]int64, error)
}

// next returns the state after applying c to s (s.Status is StatusUnknown for
// a ticket not seen before).
func (s State) next(c Change) State {
	e := c.Entry
	if c.Action != "" {
		s.Status, s.Version = ticket.Target(c.Action), e.Version
	}
	if s.TicketID == "" {
		s.TraceID = e.TraceID
	}
	if c.Number != "" {
		s.Number = c.Number
	}
	if c.Category != "" {
		s.Category = c.Category
	}
	if !c.ReportedAt.IsZero() {
		s.ReportedAt, s.Synthetic = c.ReportedAt, c.Synthetic
	}
	if c.LeadDepartmentID != "" {
		s.LeadDepartmentID = c.LeadDepartmentID
	}
	if c.EscalationLevel > s.EscalationLevel {
		s.EscalationLevel = c.EscalationLevel
	}
	if c.ReworkCount > s.ReworkCount {
		s.ReworkCount = c.ReworkCount
	}
	if e.OccurredAt.After(s.UpdatedAt) {
		s.UpdatedAt = e.OccurredAt
	}
	return s
}
