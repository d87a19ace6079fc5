// Package events names the whistle events and builds and reads their
// envelopes (whistle.v1.Event). An event's type is the name of the envelope's
// body field ("reported", "dispatched", …), which is also the last token of its
// JetStream subject.
package events

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// The event types, as in docs/architecture.md.
const (
	Reported           = "reported"
	Merged             = "merged"
	Cancelled          = "cancelled"
	Triaged            = "triaged"
	Dispatched         = "dispatched"
	Accepted           = "accepted"
	Progressed         = "progressed"
	Returned           = "returned"
	Arbitrated         = "arbitrated"
	ExtensionRequested = "extension_requested"
	ExtensionDecided   = "extension_decided"
	Escalated          = "escalated"
	Resolved           = "resolved"
	Evaluated          = "evaluated"
	Reopened           = "reopened"
	Closed             = "closed"
	Proactive          = "proactive"
	Rescheduled        = "rescheduled"
	OrgTree            = "org_tree"
	EvaluationOpened   = "evaluation_opened"
	Imported           = "imported"
	Repeated           = "repeated"
	CalledBack         = "called_back"
)

// AboutTicket reports whether events of this type concern one ticket (and
// carry its id and version); proactive and org_tree events do not.
func AboutTicket(eventType string) bool { return eventType != Proactive && eventType != OrgTree }

// actions maps each transition event to the lifecycle action it announces.
// Events not listed are annotations: they do not change the ticket's status.
var actions = map[string]ticket.Action{
	Reported:   ticket.Report,
	Merged:     ticket.Merge,
	Cancelled:  ticket.Cancel,
	Triaged:    ticket.SendToTriage,
	Dispatched: ticket.Dispatch,
	Accepted:   ticket.Accept,
	Returned:   ticket.Return,
	Arbitrated: ticket.Arbitrate,
	Resolved:   ticket.Resolve,
	Reopened:   ticket.Reopen,
	Closed:     ticket.Close,
}

// Types lists every event type, in envelope field order.
func Types() []string {
	fields := bodyOneof().Fields()
	out := make([]string, fields.Len())
	for i := range out {
		out[i] = string(fields.Get(i).Name())
	}
	return out
}

// ActionOf returns the lifecycle action a transition event announces; ok is
// false for annotations and proactive events.
func ActionOf(eventType string) (a ticket.Action, ok bool) {
	a, ok = actions[eventType]
	return a, ok
}

// TypeOfAction returns the event type that announces a lifecycle action.
func TypeOfAction(a ticket.Action) string {
	for typ, act := range actions {
		if act == a {
			return typ
		}
	}
	return ""
}

// IsTransition reports whether events of this type change a ticket's status.
func IsTransition(eventType string) bool {
	_, ok := actions[eventType]
	return ok
}

func bodyOneof() protoreflect.OneofDescriptor {
	return (&whistlev1.Event{}).ProtoReflect().Descriptor().Oneofs().ByName("body")
}

// TypeOf returns the event's type, or "" when it has no body.
func TypeOf(ev *whistlev1.Event) string {
	f := ev.ProtoReflect().WhichOneof(bodyOneof())
	if f == nil {
		return ""
	}
	return string(f.Name())
}

// Meta is what every envelope carries besides its body.
type Meta struct {
	// TicketID is the ticket the event is about.
	TicketID string
	// TicketNumber is the ticket's human-readable number.
	TicketNumber string
	// Version is the ticket version the event produced or happened at.
	Version int64
	// OccurredAt is when the change was made.
	OccurredAt time.Time
	// Producer is the raising service's name.
	Producer string
	// Actor is who caused the event.
	Actor *whistlev1.Actor
	// Synthetic marks test traffic.
	Synthetic bool
}

// New returns an envelope with a fresh event id around body, which must be one
// of the envelope's body messages (e.g. *whistlev1.TicketDispatched).
func New(m Meta, body proto.Message) (*whistlev1.Event, error) {
	ev := &whistlev1.Event{
		EventId:       ids.New(),
		TicketId:      m.TicketID,
		TicketNumber:  m.TicketNumber,
		TicketVersion: m.Version,
		OccurredAt:    timestamppb.New(m.OccurredAt),
		Producer:      m.Producer,
		Actor:         m.Actor,
		Synthetic:     m.Synthetic,
	}
	if err := setBody(ev, body); err != nil {
		return nil, err
	}
	return ev, nil
}

// MustNew is New for bodies known at compile time to be envelope bodies; it
// panics on a programming error (a message that is not a body).
func MustNew(m Meta, body proto.Message) *whistlev1.Event {
	ev, err := New(m, body)
	if err != nil {
		panic(err)
	}
	return ev
}

func setBody(ev *whistlev1.Event, body proto.Message) error {
	want := body.ProtoReflect().Descriptor().FullName()
	fields := bodyOneof().Fields()
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		if f.Message().FullName() == want {
			ev.ProtoReflect().Set(f, protoreflect.ValueOfMessage(body.ProtoReflect()))
			return nil
		}
	}
	return fmt.Errorf("events: %s is not an event body", want)
}

// Decode reads an envelope and checks what every consumer relies on: an event
// id, a body, and a ticket id and positive version for ticket events.
func Decode(data []byte) (*whistlev1.Event, error) {
	ev := &whistlev1.Event{}
	if err := proto.Unmarshal(data, ev); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	if !ids.Valid(ev.GetEventId()) {
		return nil, fmt.Errorf("decode event: event_id %q is not a UUID", ev.GetEventId())
	}
	typ := TypeOf(ev)
	if typ == "" {
		return nil, fmt.Errorf("decode event %s: no body", ev.GetEventId())
	}
	if AboutTicket(typ) && (!ids.Valid(ev.GetTicketId()) || ev.GetTicketVersion() < 1) {
		return nil, fmt.Errorf("decode %s event %s: ticket_id %q / ticket_version %d invalid",
			typ, ev.GetEventId(), ev.GetTicketId(), ev.GetTicketVersion())
	}
	return ev, nil
}
