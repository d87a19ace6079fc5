package outbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/whistle-civic/whistle/pkg/bus"
)

// Where a dead-lettered event is kept: the values of the held attribute of
// whistle.outbox.dead_lettered.
const (
	heldInDeadLetters = "dead_letter_stream"
	heldInOutboxRow   = "outbox_row"
)

// deadRow is a claimed row that cannot be published, with why.
type deadRow struct {
	row
	msg    *nats.Msg
	reason string
}

// unpublishable says why err means that no retry can ever publish rw (as
// msg), or returns "" for errors that may pass: the message is larger than
// the server takes (nats.ErrMaxPayload, before it is sent) or than the
// stream or account takes (JetStream's "maximum message size exceeded"), or
// its headers are larger than JetStream takes.
func unpublishable(err error, msg *nats.Msg, maxPayload int64) string {
	size := len(msg.Data)
	switch {
	case errors.Is(err, nats.ErrMaxPayload):
		return fmt.Sprintf("the event of %d bytes, with its headers, is larger than the %d bytes the NATS server takes in "+
			"one message (its max_payload): no retry can publish it (%v)", size, maxPayload, err)
	case errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum):
		return fmt.Sprintf("JetStream refused the event's %d bytes as larger than the stream or account takes "+
			"(max_msg_size, max_payload): no retry can publish it (%v)", size, err)
	case isAPIError(err, jetstream.ErrorCode(10097)): // JSStreamHeaderExceedsMaximumErr
		return fmt.Sprintf("JetStream refused the event's headers as larger than it takes: no retry can publish it (%v)", err)
	}
	return ""
}

func isAPIError(err error, code jetstream.ErrorCode) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == code
}

// source is the dead-letter consumer name of the schema's relays.
func (r *Relay) source() string { return "outbox-" + r.DB.Schema }

// bury settles dead rows within the relay's transaction, so the events behind
// them go out at once: each is published to the dead-letter stream with its
// reason and marked sent with dead_reason and dead_letter_seq; an event that
// does not fit there either is announced there without its body and stays in
// its row (dead_letter_seq NULL, never purged). Only a failing UPDATE fails it.
func (r *Relay) bury(ctx context.Context, tx pgx.Tx, dead []deadRow) error {
	for _, d := range dead {
		seq, reason := r.deadLetter(ctx, d)
		if _, err := tx.Exec(ctx, `UPDATE outbox SET sent_at = now(), dead_reason = $2, dead_letter_seq = $3 WHERE id = $1`,
			d.id, reason, seq); err != nil {
			return fmt.Errorf("mark outbox row %d dead: %w", d.id, err)
		}
		held := heldInOutboxRow
		if seq != nil {
			held = heldInDeadLetters
		}
		if r.dead != nil {
			r.dead.Add(ctx, 1, metric.WithAttributes(attribute.String("schema", r.DB.Schema), attribute.String("held", held)))
		}
		r.Log.ErrorContext(ctx, "outbox event cannot be published; dead-lettered", "schema", r.DB.Schema, "event_id", d.eventID,
			"event_type", d.eventType, "row", d.id, "held", held, "dead_letter_seq", seq, "reason", reason)
	}
	return nil
}

// deadLetter publishes d to the dead-letter stream and returns its sequence
// there, or nil when the stream does not hold the event (then the row does),
// and the reason to record.
func (r *Relay) deadLetter(ctx context.Context, d deadRow) (*uint64, string) {
	u := bus.Unpublishable{Source: r.source(), Subject: d.msg.Subject, EventID: d.eventID, Data: d.payload,
		Header: d.msg.Header, Reason: d.reason}
	seq, err := r.Bus.DeadLetterUnpublished(ctx, u)
	if err == nil {
		return &seq, d.reason
	}
	kept := fmt.Sprintf("%s; the event is kept in %s.outbox row %d only (to publish it once the limit is raised, "+
		"set that row's sent_at and dead_reason to NULL)", d.reason, r.DB.Schema, d.id)
	if unpublishable(err, &nats.Msg{Data: d.payload}, r.Bus.Conn().MaxPayload()) == "" {
		return nil, kept + fmt.Sprintf(" (the dead-letter stream did not take it: %v)", err)
	}
	u.Data, u.Reason = nil, kept+" (too large for a dead letter as well)"
	if _, err := r.Bus.DeadLetterUnpublished(ctx, u); err != nil {
		return nil, u.Reason + fmt.Sprintf("; the dead-letter stream did not take its notice either: %v", err)
	}
	return nil, u.Reason
}
