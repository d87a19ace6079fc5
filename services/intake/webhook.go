package intake

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/webhook"
)

// Subscription is one webhook subscription (WebhookService).
type Subscription struct {
	ID  string
	URL string
	// Secret signs the deliveries, in its text form ("whsec_…").
	Secret string
	// EventTypes are the types delivered; empty for every deliverable type.
	EventTypes []string
	// Units keep events concerning one of them or a unit under one; empty
	// for every unit.
	Units       []string
	Description string
	CreatedAt   time.Time
	CreatedBy   string
	// Pending and Failed count its deliveries waiting and given up on.
	Pending, Failed int64
}

// MaxWebhooks is how many subscriptions may exist at once.
const MaxWebhooks = 1000

// secretHint is the start of a secret, which tells secrets apart.
func secretHint(secret string) string {
	const shown = len(webhook.SecretPrefix) + 4
	if len(secret) <= shown {
		return secret
	}
	return secret[:shown] + "…"
}

// deliverableTypes lists the event types that may be subscribed to: every
// event about a ticket, except imported history; in envelope order.
var deliverableTypes = sync.OnceValue(func() []string {
	return slices.DeleteFunc(events.Types(), func(t string) bool { return !events.AboutTicket(t) || t == events.Imported })
})

// deliverable reports whether events of a type may be subscribed to.
func deliverable(eventType string) bool { return slices.Contains(deliverableTypes(), eventType) }

// wants reports whether s takes an event of type eventType that concerns
// these units (each unit and every unit above it, see concernedUnits).
func (s Subscription) wants(eventType string, concerned map[string]bool) bool {
	if len(s.EventTypes) > 0 && !slices.Contains(s.EventTypes, eventType) {
		return false
	}
	if len(s.Units) == 0 {
		return true
	}
	return slices.ContainsFunc(s.Units, func(u string) bool { return concerned[u] })
}

// namedUnits returns the org units an event names: the acting unit and
// every department its body names (fields called *department_id or
// *department_ids), and grid, the ticket's.
func namedUnits(ev *whistlev1.Event, grid string) []string {
	units := []string{ev.GetActor().GetOrgUnitId(), grid}
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		fields := m.Descriptor().Fields() // in declaration order: Range's is undefined
		for i := range fields.Len() {
			fd := fields.Get(i)
			if !m.Has(fd) {
				continue
			}
			v, name := m.Get(fd), string(fd.Name())
			switch {
			case fd.Kind() == protoreflect.StringKind && fd.IsList() && strings.HasSuffix(name, "department_ids"):
				for i := range v.List().Len() {
					units = append(units, v.List().Get(i).String())
				}
			case fd.Kind() == protoreflect.StringKind && !fd.IsList() && strings.HasSuffix(name, "department_id"):
				units = append(units, v.String())
			case fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap():
				walk(v.Message())
			}
		}
	}
	walk(ev.ProtoReflect())
	return slices.DeleteFunc(units, func(u string) bool { return u == "" })
}

// CloudEvents attributes of the deliveries.
const (
	// cloudTypePrefix starts every delivered event's type: then the event
	// type, e.g. "org.whistle.ticket.dispatched".
	cloudTypePrefix = "org.whistle.ticket."
	// cloudTestType is TestWebhook's event type.
	cloudTestType = "org.whistle.webhook.test"
)

// toCloudEvent makes the CloudEvent delivered for ev: its data is the event
// in the protobuf JSON mapping without the reporting resident's name and
// phone, its trace the event's own (traceparent).
func toCloudEvent(ev *whistlev1.Event, traceparent string) (webhook.Event, error) {
	clean := proto.Clone(ev).(*whistlev1.Event)
	withoutPersonalData(clean.ProtoReflect())
	data, err := protojson.Marshal(clean)
	if err != nil {
		return webhook.Event{}, err
	}
	ce := webhook.Event{
		ID: ev.GetEventId(), Source: "/whistle/" + ev.GetProducer(), Type: cloudTypePrefix + events.TypeOf(ev),
		Subject: ev.GetTicketNumber(), Time: ev.GetOccurredAt().AsTime(), Data: data,
		Extensions: map[string]string{"whistleticket": ev.GetTicketId(), "whistleversion": strconv.FormatInt(ev.GetTicketVersion(), 10)},
	}
	if traceparent != "" {
		ce.Extensions["traceparent"] = traceparent
	}
	return ce, nil
}

// withoutPersonalData clears, everywhere in m, the reporting person's name
// and phone (Reporter) and the display name of an actor who is a reporter:
// personal data never leaves intake in a delivery.
func withoutPersonalData(m protoreflect.Message) {
	fields := m.Descriptor().Fields()
	switch m.Descriptor().FullName() {
	case "whistle.v1.Reporter":
		m.Clear(fields.ByName("name"))
		m.Clear(fields.ByName("phone"))
	case "whistle.v1.Actor":
		if strings.HasPrefix(m.Get(fields.ByName("id")).String(), "reporter:") {
			m.Clear(fields.ByName("display_name"))
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Kind() != protoreflect.MessageKind || fd.IsMap():
		case fd.IsList():
			for i := range v.List().Len() {
				withoutPersonalData(v.List().Get(i).Message())
			}
		default:
			withoutPersonalData(v.Message())
		}
		return true
	})
}
