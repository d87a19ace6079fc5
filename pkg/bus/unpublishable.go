package bus

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// HeaderEventID names the event of a dead letter that does not hold the event
// itself (see Unpublishable), so that listings can still show it.
const HeaderEventID = "Whistle-Event-Id"

// Unpublishable is an event a producer (an outbox relay) could not publish for
// a reason no retry cures, e.g. larger than the server takes in one message.
type Unpublishable struct {
	// Source gives up on the event and names its dead letters' subject,
	// "<prefix>.dlq.<Source>", e.g. "outbox-intake". Required; a NATS subject
	// token (no '.', '*', '>' or white space).
	Source string
	// Subject is where the event should have gone, e.g. "whistle.v1.reported".
	Subject string
	// EventID is the event's id.
	EventID string
	// Data is the encoded event, or nil for a dead letter that only says the
	// event could not be published (it does not fit in a message either); such
	// a dead letter cannot be replayed.
	Data []byte
	// Header holds the event's own headers (its trace context); Nats-* headers
	// are left out.
	Header nats.Header
	// Reason says why it could not be published, and where the event is kept.
	Reason string
}

// DeadLetterUnpublished publishes u to the dead-letter stream, with the
// headers a consumer's dead letters carry (HeaderError: u.Reason;
// HeaderConsumer: u.Source; HeaderSubject; HeaderDeliveries: 0, it was never
// delivered) and HeaderEventID, and returns its sequence there. Its message id
// "<Source>:<EventID>" makes a repeat within the duplicate window a no-op
// that returns the first one's sequence. It fails when JetStream does not
// take it within 5 s, or at once for a message it can never take (too large:
// try again without Data).
func (b *Bus) DeadLetterUnpublished(ctx context.Context, u Unpublishable) (uint64, error) {
	if u.Source == "" || strings.ContainsAny(u.Source, ".*> \t\r\n") {
		return 0, fmt.Errorf("dead-letter an unpublishable event: source %q is not a subject token", u.Source)
	}
	h := nats.Header{}
	for k, v := range u.Header {
		if !strings.HasPrefix(k, "Nats-") {
			h[k] = v
		}
	}
	h.Set(HeaderError, u.Reason)
	h.Set(HeaderConsumer, u.Source)
	h.Set(HeaderSubject, u.Subject)
	h.Set(HeaderDeliveries, "0")
	h.Set(HeaderEventID, u.EventID)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ack, err := b.js.PublishMsg(ctx, &nats.Msg{Subject: b.DLQSubject(u.Source), Data: u.Data, Header: h},
		jetstream.WithMsgID(u.Source+":"+u.EventID), jetstream.WithExpectStream(b.dlqStream()))
	if err != nil {
		return 0, fmt.Errorf("dead-letter event %s to %s: %w", u.EventID, b.DLQSubject(u.Source), err)
	}
	return ack.Sequence, nil
}
