package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// ContentType is the media type of a CloudEvents structured-mode JSON body.
const ContentType = "application/cloudevents+json; charset=utf-8"

// SpecVersion is the CloudEvents version written and accepted.
const SpecVersion = "1.0"

// ErrEvent is wrapped when an Event cannot be encoded or decoded.
var ErrEvent = errors.New("webhook: invalid CloudEvent")

// Event is one CloudEvents 1.0 event (https://github.com/cloudevents/spec),
// encoded in structured JSON mode by MarshalJSON.
type Event struct {
	// ID identifies the event; with Source it is unique, so a receiver
	// de-duplicates on it. It is also the webhook-id. Required.
	ID string
	// Source is a URI-reference naming the context the event happened in,
	// e.g. "/whistle/intake". Required.
	Source string
	// Type is the kind of event, reverse-DNS style, e.g.
	// "org.whistle.ticket.resolved". Required.
	Type string
	// Subject is what the event is about within Source, e.g. the ticket's
	// number. Optional.
	Subject string
	// Time is when it happened; written in UTC, RFC 3339 with nanoseconds.
	// Optional: the zero time is left out.
	Time time.Time
	// DataContentType is the media type of Data. Default (when empty)
	// "application/json"; Data is always JSON here.
	DataContentType string
	// Data is the payload, a JSON value (usually an object) written as is.
	// Optional: nil is left out.
	Data json.RawMessage
	// Extensions are extension attributes, e.g. "traceparent" and
	// "tracestate" (the distributed-tracing extension: the trace the event
	// belongs to) or "whistleticket". Names are 1 to 20 lowercase letters and
	// digits and must not be a context attribute's; values are strings.
	Extensions map[string]string
}

// extensionName is what the CloudEvents spec allows as an attribute name,
// with its recommended maximum length.
var extensionName = regexp.MustCompile(`^[a-z0-9]{1,20}$`)

// reserved are the attribute names of the spec and of its JSON format.
var reserved = map[string]bool{
	"specversion": true, "id": true, "source": true, "type": true, "subject": true, "time": true,
	"datacontenttype": true, "dataschema": true, "data": true, "data_base64": true,
}

// Validate reports, wrapping ErrEvent, a missing ID, Source or Type, Data
// that is not valid JSON, or an extension whose name is not allowed.
func (e Event) Validate() error {
	switch {
	case e.ID == "" || e.Source == "" || e.Type == "":
		return fmt.Errorf("%w: id, source and type are required", ErrEvent)
	case e.Data != nil && !json.Valid(e.Data):
		return fmt.Errorf("%w: data is not valid JSON", ErrEvent)
	}
	for name := range e.Extensions {
		if !extensionName.MatchString(name) || reserved[name] {
			return fmt.Errorf("%w: extension name %q: want 1 to 20 lowercase letters and digits, not a context attribute's", ErrEvent, name)
		}
	}
	return nil
}

// MarshalJSON encodes e in CloudEvents structured JSON mode, with
// specversion "1.0". It fails (wrapping ErrEvent) when Validate does.
func (e Event) MarshalJSON() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	m := make(map[string]any, 8+len(e.Extensions))
	for k, v := range e.Extensions {
		m[k] = v
	}
	m["specversion"], m["id"], m["source"], m["type"] = SpecVersion, e.ID, e.Source, e.Type
	m["datacontenttype"] = e.DataContentType
	if e.DataContentType == "" {
		m["datacontenttype"] = "application/json"
	}
	if e.Subject != "" {
		m["subject"] = e.Subject
	}
	if !e.Time.IsZero() {
		m["time"] = e.Time.UTC().Format(time.RFC3339Nano)
	}
	if e.Data != nil {
		m["data"] = e.Data
	}
	return json.Marshal(m)
}

// UnmarshalJSON decodes a structured-mode event of specversion "1.0".
// Attributes other than the context attributes become Extensions; their
// values must be strings. dataschema and data_base64, which Event does not
// model, are refused. Errors wrap ErrEvent.
func (e *Event) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%w: %v", ErrEvent, err)
	}
	var ev Event
	var spec, ts string
	for name, raw := range m {
		if err := ev.decodeAttr(name, raw, &spec, &ts); err != nil {
			return fmt.Errorf("%w: attribute %q: %v", ErrEvent, name, err)
		}
	}
	if spec != SpecVersion {
		return fmt.Errorf("%w: specversion %q, want %q", ErrEvent, spec, SpecVersion)
	}
	if ts != "" {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return fmt.Errorf("%w: time: %v", ErrEvent, err)
		}
		ev.Time = t.UTC()
	}
	if err := ev.Validate(); err != nil {
		return err
	}
	*e = ev
	return nil
}

// decodeAttr sets the attribute name of e (or spec, or ts) from raw.
func (e *Event) decodeAttr(name string, raw json.RawMessage, spec, ts *string) error {
	if name == "data" {
		e.Data = bytes.Clone(raw)
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return errors.New("not a string")
	}
	fields := map[string]*string{
		"specversion": spec, "id": &e.ID, "source": &e.Source, "type": &e.Type,
		"subject": &e.Subject, "time": ts, "datacontenttype": &e.DataContentType,
	}
	if f, ok := fields[name]; ok {
		*f = s
		return nil
	}
	if e.Extensions == nil {
		e.Extensions = map[string]string{}
	}
	e.Extensions[name] = s
	return nil
}
