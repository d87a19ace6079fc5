package bus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
)

// ErrNoDeadLetter: the dead-letter stream holds no message with the sequence
// asked for (it was replayed or discarded already, or never existed).
var ErrNoDeadLetter = errors.New("no dead letter with this sequence")

// ErrNotReplayable: a dead letter does not say which subject its event was
// published on (it was not written by a consumer), or holds no event (an
// outbox's notice of an event too large for a message, which stays in the
// outbox row), so it cannot be replayed; discard it instead.
var ErrNotReplayable = errors.New("dead letter names no original subject on the events stream")

// DeadLetter is a message held in the dead-letter stream: an event a consumer
// gave up on, with why.
type DeadLetter struct {
	// Seq is its sequence in the dead-letter stream, which names it.
	Seq uint64
	// Consumer is the durable consumer that gave up on it, e.g. "dispatch".
	Consumer string
	// Subject the event was published on, e.g. "whistle.v1.reported".
	Subject string
	// EventType is the subject's last token, e.g. "reported".
	EventType string
	// Error says why the consumer gave up.
	Error string
	// Deliveries is how often the consumer had received it.
	Deliveries uint64
	// At is when it was dead-lettered.
	At time.Time
	// Data is the encoded whistle.v1.Event, as published.
	Data []byte
	// Header holds the event's original headers (the trace context), without
	// the dead-letter headers and JetStream's own (Nats-*).
	Header nats.Header
	// EventID and TicketID are read from Data (EventID from HeaderEventID
	// when Data is empty); empty when it cannot be decoded (often the very
	// reason it was dead-lettered).
	EventID, TicketID string
}

// dlqStream returns the name of the dead-letter stream.
func (b *Bus) dlqStream() string { return b.cfg.Stream + "_DLQ" }

// deadLetterPageSize is how many dead letters DeadLetters returns when the
// caller names no limit.
const deadLetterPageSize = 50

// DeadLetters lists dead letters, oldest first: those after the dead-letter
// stream sequence after (0 from the start), at most limit of them (limit < 1
// means 50), of one durable consumer, or of every consumer when consumer is
// "". It reads the stream message by message without consuming anything: the
// list is unchanged until messages are replayed or discarded.
func (b *Bus) DeadLetters(ctx context.Context, consumer string, after uint64, limit int) ([]DeadLetter, error) {
	if limit < 1 {
		limit = deadLetterPageSize
	}
	filter := b.cfg.Prefix + ".dlq.>"
	if consumer != "" {
		if strings.ContainsAny(consumer, ".*> \t\r\n") {
			return nil, fmt.Errorf("dead letters of consumer %q: not a durable consumer's name", consumer)
		}
		filter = b.DLQSubject(consumer)
	}
	s, err := b.js.Stream(ctx, b.dlqStream())
	if err != nil {
		return nil, fmt.Errorf("dead letters: look up stream %s: %w (is JetStream reachable?)", b.dlqStream(), err)
	}
	var out []DeadLetter
	if after == math.MaxUint64 {
		return out, nil
	}
	for seq := after + 1; len(out) < limit; {
		raw, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break // no later one
		}
		if err != nil {
			return nil, fmt.Errorf("dead letters: read stream %s from sequence %d: %w", b.dlqStream(), seq, err)
		}
		out = append(out, b.deadLetter(raw))
		seq = raw.Sequence + 1
	}
	return out, nil
}

// ReplayDeadLetter publishes the event of dead letter seq again on its
// original subject, with its original headers (so its trace goes on), then
// deletes it from the dead-letter stream, and returns it.
//
// The copy is a new message of the events stream, so every consumer of its
// event type receives it again, not only the one that gave up on it: the
// others find the event id in their inbox (pkg/inbox) and change nothing. The
// copy carries the message id "replay:<seq>", so that a replay repeated
// within the duplicate window (two administrators at once, or a retry after
// the deletion failed) is dropped by JetStream rather than delivered twice.
// An unknown seq returns ErrNoDeadLetter; a dead letter that names no
// original subject, ErrNotReplayable.
func (b *Bus) ReplayDeadLetter(ctx context.Context, seq uint64) (DeadLetter, error) {
	s, dl, err := b.lookUpDeadLetter(ctx, seq)
	if err != nil {
		return DeadLetter{}, err
	}
	if !strings.HasPrefix(dl.Subject, b.cfg.Prefix+".v1.") {
		return dl, fmt.Errorf("replay dead letter %d: %w (its subject is %q)", seq, ErrNotReplayable, dl.Subject)
	}
	if len(dl.Data) == 0 {
		return dl, fmt.Errorf("replay dead letter %d: %w (it holds no event: %s)", seq, ErrNotReplayable, dl.Error)
	}
	h := nats.Header{}
	for k, v := range dl.Header {
		h[k] = v
	}
	// No other Nats-* header: the copy's headers are stored with it, and a
	// consumer that dead-letters it again passes them on.
	msg := &nats.Msg{Subject: dl.Subject, Data: dl.Data, Header: h}
	if _, err := b.js.PublishMsg(ctx, msg, jetstream.WithMsgID("replay:"+strconv.FormatUint(seq, 10))); err != nil {
		return dl, fmt.Errorf("replay dead letter %d: publish to %s: %w (nothing was removed; retry)", seq, dl.Subject, err)
	}
	if err := b.deleteDeadLetter(ctx, s, seq); err != nil {
		return dl, fmt.Errorf("replay dead letter %d: published again, but: %w", seq, err)
	}
	return dl, nil
}

// DeadLetter returns dead letter seq as it is held, changing nothing. An
// unknown seq returns ErrNoDeadLetter.
func (b *Bus) DeadLetter(ctx context.Context, seq uint64) (DeadLetter, error) {
	_, dl, err := b.lookUpDeadLetter(ctx, seq)
	return dl, err
}

// DiscardDeadLetter deletes dead letter seq from the dead-letter stream
// without replaying it, and returns it. An unknown seq returns ErrNoDeadLetter.
func (b *Bus) DiscardDeadLetter(ctx context.Context, seq uint64) (DeadLetter, error) {
	s, dl, err := b.lookUpDeadLetter(ctx, seq)
	if err != nil {
		return DeadLetter{}, err
	}
	if err := b.deleteDeadLetter(ctx, s, seq); err != nil {
		return dl, fmt.Errorf("discard dead letter %d: %w", seq, err)
	}
	return dl, nil
}

// lookUpDeadLetter reads dead letter seq.
func (b *Bus) lookUpDeadLetter(ctx context.Context, seq uint64) (jetstream.Stream, DeadLetter, error) {
	s, err := b.js.Stream(ctx, b.dlqStream())
	if err != nil {
		return nil, DeadLetter{}, fmt.Errorf("dead letter %d: look up stream %s: %w (is JetStream reachable?)", seq, b.dlqStream(), err)
	}
	if seq == 0 {
		return nil, DeadLetter{}, fmt.Errorf("dead letter 0: %w", ErrNoDeadLetter)
	}
	raw, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, DeadLetter{}, fmt.Errorf("dead letter %d: %w", seq, ErrNoDeadLetter)
	}
	if err != nil {
		return nil, DeadLetter{}, fmt.Errorf("dead letter %d: read stream %s: %w", seq, b.dlqStream(), err)
	}
	return s, b.deadLetter(raw), nil
}

// deleteDeadLetter deletes seq; if it is gone already (another replay or
// discard got there first), it returns ErrNoDeadLetter.
func (b *Bus) deleteDeadLetter(ctx context.Context, s jetstream.Stream, seq uint64) error {
	err := s.DeleteMsg(ctx, seq)
	if err == nil {
		return nil
	}
	if _, gerr := s.GetMsg(ctx, seq); errors.Is(gerr, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("dead letter %d: %w (removed meanwhile by another replay or discard)", seq, ErrNoDeadLetter)
	}
	return fmt.Errorf("delete dead letter %d from stream %s: %w", seq, b.dlqStream(), err)
}

// deadLetter reads a message of the dead-letter stream.
func (b *Bus) deadLetter(raw *jetstream.RawStreamMsg) DeadLetter {
	dl := DeadLetter{Seq: raw.Sequence, At: raw.Time, Data: raw.Data, Header: nats.Header{},
		Consumer: strings.TrimPrefix(raw.Subject, b.cfg.Prefix+".dlq.")}
	for k, v := range raw.Header {
		switch {
		case k == HeaderError:
			dl.Error = raw.Header.Get(k)
		case k == HeaderConsumer:
			dl.Consumer = raw.Header.Get(k)
		case k == HeaderSubject:
			dl.Subject = raw.Header.Get(k)
		case k == HeaderDeliveries:
			dl.Deliveries, _ = strconv.ParseUint(raw.Header.Get(k), 10, 64)
		case k == HeaderEventID:
			dl.EventID = raw.Header.Get(k)
		case strings.HasPrefix(k, "Nats-"):
			// JetStream's own: the dead letter's message id, …
		default:
			dl.Header[k] = v
		}
	}
	if dl.Subject != "" {
		dl.EventType = b.EventType(dl.Subject)
	}
	if ev, err := events.Decode(raw.Data); err == nil {
		dl.EventID, dl.TicketID = ev.GetEventId(), ev.GetTicketId()
		if dl.EventType == "" {
			dl.EventType = events.TypeOf(ev)
		}
	} else if ev := (&whistlev1.Event{}); proto.Unmarshal(raw.Data, ev) == nil {
		// An envelope that fails Decode's checks may still name itself.
		if ids.Valid(ev.GetEventId()) {
			dl.EventID = ev.GetEventId()
		}
		if ids.Valid(ev.GetTicketId()) {
			dl.TicketID = ev.GetTicketId()
		}
	}
	return dl
}
