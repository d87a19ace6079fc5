package bus

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// replayProgressEvery is how many events Replay delivers between two progress calls.
const replayProgressEvery = 1000

// Replay delivers every event stored in the stream, oldest first, up to the
// last one stored when Replay began, to fn, one at a time; progress (may be
// nil) is called with (done, total) at most every 1000 events and at the end.
// It returns how many events were delivered. fn's error stops the replay and
// is returned wrapped with the stream sequence.
//
// total is the span of stream sequences when Replay began, so done may end
// below it when events were deleted. An empty stream returns 0 at once,
// without calling progress. The dead-letter stream is not replayed. Replay
// reads through an ordered consumer, so it needs no durable state; if ctx
// ends first, it returns the events delivered so far and ctx's error.
func (b *Bus) Replay(ctx context.Context, fn func(ctx context.Context, m *Message) error, progress func(done, total uint64)) (uint64, error) {
	if progress == nil {
		progress = func(uint64, uint64) {}
	}
	s, err := b.js.Stream(ctx, b.cfg.Stream)
	if err != nil {
		return 0, fmt.Errorf("replay: look up stream %s: %w (is JetStream reachable?)", b.cfg.Stream, err)
	}
	state := s.CachedInfo().State
	if state.Msgs == 0 {
		return 0, nil
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{b.cfg.Prefix + ".v1.>"},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return 0, fmt.Errorf("replay: create ordered consumer on %s: %w (is JetStream reachable?)", b.cfg.Stream, err)
	}
	it, err := c.Messages()
	if err != nil {
		return 0, fmt.Errorf("replay: read stream %s: %w (is JetStream reachable?)", b.cfg.Stream, err)
	}
	defer it.Stop()
	total := state.LastSeq - state.FirstSeq + 1
	return b.replay(ctx, it, state.LastSeq, fn, func(done uint64) { progress(done, total) })
}

// replay delivers the messages of it up to stream sequence last to fn.
func (b *Bus) replay(ctx context.Context, it jetstream.MessagesContext, last uint64,
	fn func(ctx context.Context, m *Message) error, progress func(done uint64)) (uint64, error) {
	var done uint64
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return done, fmt.Errorf("replay stopped after %d events: %w", done, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return done, fmt.Errorf("replay stopped after %d events: read metadata: %w", done, err)
		}
		if md.Sequence.Stream > last {
			break // the last event was deleted while we replayed
		}
		if err := fn(ctx, b.message(msg)); err != nil {
			return done, fmt.Errorf("replay stopped at stream sequence %d (after %d events): %w; fix the cause and replay again", md.Sequence.Stream, done, err)
		}
		if done++; done%replayProgressEvery == 0 {
			progress(done)
		}
		if md.Sequence.Stream >= last || md.NumPending == 0 {
			break // at the last event, or the rest was deleted while we replayed
		}
	}
	if done%replayProgressEvery != 0 || done == 0 {
		progress(done)
	}
	return done, nil
}

// message turns a stored event into a Message with one delivery.
func (b *Bus) message(msg jetstream.Msg) *Message {
	h := msg.Headers()
	if h == nil {
		h = nats.Header{}
	}
	return &Message{Subject: msg.Subject(), EventType: b.EventType(msg.Subject()), Data: msg.Data(),
		Header: h, Deliveries: 1}
}
