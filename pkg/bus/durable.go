package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/whistle-civic/whistle/pkg/backoff"
	"github.com/whistle-civic/whistle/pkg/clock"
)

// consumer creates or updates the durable consumer, retrying while
// JetStream cannot be reached, and returns it.
func (r *runner) consumer(ctx context.Context) (jetstream.Consumer, error) {
	for try := 1; ; try++ {
		c, err := r.ensure(ctx)
		if err == nil {
			return c, nil
		}
		r.cfg.Log.Warn("cannot create consumer, retrying", "consumer", r.cfg.Name, "err", err)
		if !clock.Sleep(ctx, backoff.Delay(try, 100*time.Millisecond, 5*time.Second)) {
			return nil, fmt.Errorf("create consumer %s: %w", r.cfg.Name, err)
		}
	}
}

// wanted is the durable consumer's configuration, but for where it starts.
func (r *runner) wanted() jetstream.ConsumerConfig {
	cc := jetstream.ConsumerConfig{
		Durable:       r.cfg.Name,
		Description:   "Whistle consumer " + r.cfg.Name,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       r.cfg.AckWait,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		// Deliveries are bounded by us (MaxDeliveries, then the dead-letter
		// subject), not by the server, which would drop the message silently.
		MaxDeliver:    -1,
		MaxAckPending: 4 * r.cfg.Buffer,
	}
	subjects := r.subjects()
	switch {
	case len(subjects) == 1:
		cc.FilterSubject = subjects[0]
	case r.bus.multiFilter():
		cc.FilterSubjects = subjects
	default: // one filter subject per consumer: all events, the others skipped
		cc.FilterSubject = r.bus.cfg.Prefix + ".v1.>"
	}
	return cc
}

// subjects are the subjects of the consumer's event types, sorted, or the
// whole event space when it takes every event.
func (r *runner) subjects() []string {
	if len(r.types) == 0 {
		return []string{r.bus.cfg.Prefix + ".v1.>"}
	}
	var out []string
	for t := range r.types {
		out = append(out, r.bus.Subject(t))
	}
	slices.Sort(out)
	return out
}

// ensure puts the durable consumer in place. One whose filter is already as
// wanted keeps its position (and where it started) and gets the rest of the
// configuration. Otherwise — it is new, or its filter changes — it starts at
// the first event that it or a consumer it replaces had not acknowledged
// (from the first event if there is none), and those consumers are deleted.
func (r *runner) ensure(ctx context.Context) (jetstream.Consumer, error) {
	js, stream := r.bus.js, r.bus.cfg.Stream
	want := r.wanted()
	cur, err := r.info(ctx, r.cfg.Name)
	if err != nil {
		return nil, err
	}
	if cur != nil && sameFilters(cur.Config, want) {
		want.DeliverPolicy, want.OptStartSeq, want.OptStartTime = cur.Config.DeliverPolicy, cur.Config.OptStartSeq, cur.Config.OptStartTime
		c, err := js.CreateOrUpdateConsumer(ctx, stream, want)
		if err != nil {
			return nil, r.multiFilterRefused(err)
		}
		r.retire(ctx)
		return c, nil
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	last := s.CachedInfo().State.LastSeq // before the consumers' positions: they may only be further on
	former, err := r.former(ctx)
	if err != nil {
		return nil, err
	}
	var before []*jetstream.ConsumerInfo
	if cur != nil {
		before = append(before, cur)
	}
	for _, name := range former {
		info, err := r.info(ctx, name)
		if err != nil {
			return nil, err
		}
		if info != nil {
			before = append(before, info)
		}
	}
	if len(before) > 0 {
		start := last + 1
		for _, info := range before {
			start = min(start, resumeAt(info, last))
		}
		if start > 1 {
			want.DeliverPolicy, want.OptStartSeq = jetstream.DeliverByStartSequencePolicy, start
		}
	}
	if cur != nil {
		r.cfg.Log.Info("the consumer's filter changes; recreating it where it stood", "consumer", r.cfg.Name,
			"from", filtersOf(cur.Config), "to", filtersOf(want), "start_seq", want.OptStartSeq)
		if err := js.DeleteConsumer(ctx, stream, r.cfg.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, err
		}
	}
	// Create, not update: should another replica have created it meanwhile,
	// with another start, the next attempt finds it and keeps its start.
	c, err := js.CreateConsumer(ctx, stream, want)
	if err != nil {
		return nil, r.multiFilterRefused(err)
	}
	r.retire(ctx)
	return c, nil
}

// multiFilterRefused turns the servers' refusal of several filter subjects
// (a cluster with servers older than 2.10 behind a newer one) into using a
// single filter from then on.
func (r *runner) multiFilterRefused(err error) error {
	if errors.Is(err, jetstream.ErrConsumerMultipleFilterSubjectsNotSupported) {
		r.bus.oneFilter.Store(true)
		r.cfg.Log.Warn("the NATS servers take one filter subject per consumer; receiving every event and skipping the others",
			"consumer", r.cfg.Name)
	}
	return err
}

// info returns the durable consumer's info, nil if there is no such consumer.
func (r *runner) info(ctx context.Context, name string) (*jetstream.ConsumerInfo, error) {
	c, err := r.bus.js.Consumer(ctx, r.bus.cfg.Stream, name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up consumer %s: %w", name, err)
	}
	return c.CachedInfo(), nil
}

// former returns the durable consumers on the stream that this one
// replaces: those of the one-durable-per-type layout ("<Name>-<type>") and
// those of the consumers it replaces (each name, and "<name>-<type>").
func (r *runner) former(ctx context.Context) ([]string, error) {
	replaced := map[string]bool{}
	for _, name := range append([]string{r.cfg.Name}, r.cfg.Replaces...) {
		if name != r.cfg.Name {
			replaced[name] = true
		}
		for t := range r.types {
			replaced[name+"-"+t] = true
		}
	}
	if len(replaced) == 0 {
		return nil, nil
	}
	s, err := r.bus.js.Stream(ctx, r.bus.cfg.Stream)
	if err != nil {
		return nil, err
	}
	names := s.ConsumerNames(ctx)
	var out []string
	for name := range names.Name() {
		if replaced[name] {
			out = append(out, name)
		}
	}
	if err := names.Err(); err != nil {
		return nil, fmt.Errorf("list consumers: %w", err)
	}
	slices.Sort(out)
	return out, nil
}

// retire deletes the durable consumers this one replaces, so that they no
// longer hold messages or state, and logs which there were. It is best
// effort: one it cannot delete now is deleted at the next start.
func (r *runner) retire(ctx context.Context) {
	former, err := r.former(ctx)
	if err != nil {
		r.cfg.Log.Warn("cannot list the consumers this one replaces; trying again at the next start", "consumer", r.cfg.Name, "err", err)
		return
	}
	var deleted []string
	for _, name := range former {
		err := r.bus.js.DeleteConsumer(ctx, r.bus.cfg.Stream, name)
		switch {
		case err == nil:
			deleted = append(deleted, name)
		case errors.Is(err, jetstream.ErrConsumerNotFound): // deleted meanwhile by another replica
		default:
			r.cfg.Log.Warn("cannot delete a consumer this one replaces; trying again at the next start",
				"consumer", r.cfg.Name, "replaced", name, "err", err)
		}
	}
	if len(deleted) > 0 {
		r.cfg.Log.Info("deleted the durable consumers this one replaces", "consumer", r.cfg.Name, "deleted", deleted)
	}
}

// resumeAt is the stream sequence of the first event that the consumer has
// not acknowledged (counting only its own events); last is the stream's last
// sequence as it was before the consumer's info was read.
func resumeAt(info *jetstream.ConsumerInfo, last uint64) uint64 {
	switch {
	case info.NumAckPending > 0: // the first unacknowledged follows the ack floor
		return info.AckFloor.Stream + 1
	case info.NumPending > 0: // all delivered are acknowledged; the next follows
		return info.Delivered.Stream + 1
	default: // it had everything up to last
		return last + 1
	}
}

// sameFilters reports whether two consumer configurations filter alike.
func sameFilters(a, b jetstream.ConsumerConfig) bool {
	return slices.Equal(filtersOf(a), filtersOf(b))
}

// filtersOf returns a configuration's filter subjects, sorted.
func filtersOf(c jetstream.ConsumerConfig) []string {
	out := slices.Clone(c.FilterSubjects)
	if c.FilterSubject != "" {
		out = append(out, c.FilterSubject)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// multiFilter reports whether the servers take several filter subjects per
// consumer: from NATS 2.10 on.
func (b *Bus) multiFilter() bool {
	return !b.oneFilter.Load() && versionAtLeast(b.nc.ConnectedServerVersion(), 2, 10)
}

// versionAtLeast reports whether a server version such as "2.10.3" or
// "2.11.0-RC.1" is major.minor or later; an unreadable one is not.
func versionAtLeast(version string, major, minor int) bool {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.SplitN(parts[1], "-", 2)[0])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}
