package events

import (
	"slices"
)

// The services that produce events, by the names they run under
// (`whistle serve <name>`, their schemas, their NATS users).
const (
	Intake     = "intake"
	Dispatch   = "dispatch"
	Response   = "response"
	Evaluation = "evaluation"
	Monitoring = "monitoring"
)

// Services lists every service that produces events, in the order they
// start in a stack.
var Services = []string{Intake, Dispatch, Response, Evaluation, Monitoring}

// producers says which services append events of each type to their outbox:
// the "emits" column of docs/architecture.md ("Who owns what"), as the code
// does it. A type may have several producers. A type not listed has none, so no
// service may publish it.
//
// This table is the NATS authorization of every deployment: each service's
// user may publish only the subjects of its own event types (see
// bus.PublishAllow), so a service that started to emit a type not listed
// here would have its publishes refused by the server.
var producers = map[string][]string{
	Reported:           {Intake},
	Imported:           {Intake}, // a finished ticket of another system, with its history
	Triaged:            {Dispatch},
	Dispatched:         {Dispatch},
	Arbitrated:         {Dispatch},
	Cancelled:          {Dispatch, Response}, // a triage rejection or a withdrawal (by whoever holds the ticket)
	Merged:             {Dispatch, Response}, // by whoever holds the duplicate
	Escalated:          {Dispatch},
	Rescheduled:        {Dispatch},
	ExtensionDecided:   {Dispatch},
	OrgTree:            {Dispatch},
	Accepted:           {Response},
	Progressed:         {Response},
	Returned:           {Response},
	ExtensionRequested: {Response},
	Resolved:           {Response},
	EvaluationOpened:   {Evaluation},
	Evaluated:          {Evaluation},
	Closed:             {Evaluation},
	Reopened:           {Evaluation},
	Proactive:          {Monitoring},
	Repeated:           {Intake},     // a closed ticket's matter reported again at its place
	CalledBack:         {Monitoring}, // a call-back's outcome (MonitoringService.RecordCallBack)
}

// Producers returns the services that emit events of a type, in the order
// of Services; none for a type nobody emits or an unknown one.
func Producers(eventType string) []string {
	return slices.Clone(producers[eventType])
}

// Produces returns the event types a service emits, sorted; none for a
// service that emits nothing or an unknown name.
func Produces(service string) []string {
	var out []string
	for typ, svcs := range producers {
		if slices.Contains(svcs, service) {
			out = append(out, typ)
		}
	}
	slices.Sort(out)
	return out
}

// MayProduce reports whether a service emits events of a type.
func MayProduce(service, eventType string) bool {
	return slices.Contains(producers[eventType], service)
}
