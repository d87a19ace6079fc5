// Package bus is Whistle's JetStream plumbing: the connection, the WHISTLE
// stream and its dead-letter stream, subjects, and durable pull consumers with
// explicit acks, bounded redelivery with backoff and dead-lettering.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config says how to reach JetStream and how the streams look.
type Config struct {
	// URL of the NATS servers, e.g. "nats://127.0.0.1:4222" (comma-separated
	// for a cluster). Ignored when a connect option supplies an in-process server.
	URL string
	// Name identifies the connection in the server's monitoring, e.g. "whistle-intake".
	Name string
	// Stream is the events stream's name. Default "WHISTLE"; its dead-letter
	// stream is Stream+"_DLQ".
	Stream string
	// Prefix starts every subject: "<Prefix>.v1.<event>" and
	// "<Prefix>.dlq.<consumer>". Default "whistle". Tests sharing one server
	// give each test its own prefix and stream.
	Prefix string
	// Replicas of each stream: 1 in dev, 3 in production. Default 1.
	Replicas int
	// Duplicates is JetStream's deduplication window on Nats-Msg-Id. Default
	// (and minimum) 2 minutes: a relay that crashed after publishing but before
	// marking its rows sent republishes them well within it.
	Duplicates time.Duration
	// MaxAge bounds how long events are kept; 0 keeps them for ever, so that
	// read models can be rebuilt by replaying the stream.
	MaxAge time.Duration
	// ConnectWait is how long Connect keeps trying to reach JetStream. Default 30 s.
	ConnectWait time.Duration
	// Log receives connection events. Default: discard.
	Log *slog.Logger
}

func (c *Config) defaults() {
	if c.Stream == "" {
		c.Stream = "WHISTLE"
	}
	if c.Prefix == "" {
		c.Prefix = "whistle"
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Duplicates < 2*time.Minute {
		c.Duplicates = 2 * time.Minute
	}
	if c.ConnectWait == 0 {
		c.ConnectWait = 30 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Bus is a connection to JetStream with the Whistle streams in place.
type Bus struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	cfg Config
}

// Connect connects, then creates or updates the events and dead-letter
// streams, retrying for up to cfg.ConnectWait while the server is unreachable.
// The connection reconnects for ever afterwards.
func Connect(ctx context.Context, cfg Config, opts ...nats.Option) (*Bus, error) {
	cfg.defaults()
	log := cfg.Log
	opts = append([]nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: we closed it ourselves
				log.Warn("NATS disconnected; reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("NATS reconnected", "url", c.ConnectedUrlRedacted()) }),
	}, opts...)
	url := cfg.URL
	if url == "" {
		url = nats.DefaultURL
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w (check WHISTLE_NATS_URL)", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	b := &Bus{nc: nc, js: js, cfg: cfg}
	if err := b.ensureStreams(ctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("set up JetStream streams on %s: %w (is NATS running with JetStream enabled (-js)? check WHISTLE_NATS_URL)", url, err)
	}
	return b, nil
}

func (b *Bus) ensureStreams(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.ConnectWait)
	defer cancel()
	streams := []jetstream.StreamConfig{{
		Name:        b.cfg.Stream,
		Description: "Whistle events",
		Subjects:    []string{b.cfg.Prefix + ".v1.>"},
		Storage:     jetstream.FileStorage,
		Replicas:    b.cfg.Replicas,
		Duplicates:  b.cfg.Duplicates,
		MaxAge:      b.cfg.MaxAge,
		Retention:   jetstream.LimitsPolicy,
	}, {
		Name:        b.cfg.Stream + "_DLQ",
		Description: "Whistle events that kept failing, with the error",
		Subjects:    []string{b.cfg.Prefix + ".dlq.>"},
		Storage:     jetstream.FileStorage,
		Replicas:    b.cfg.Replicas,
		Duplicates:  b.cfg.Duplicates,
		Retention:   jetstream.LimitsPolicy,
	}}
	for _, sc := range streams {
		for delay := 100 * time.Millisecond; ; delay = min(delay*2, 2*time.Second) {
			_, err := b.js.CreateOrUpdateStream(ctx, sc)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("stream %s: %w", sc.Name, err)
			}
			b.cfg.Log.Warn("JetStream not ready, retrying", "stream", sc.Name, "err", err)
			select {
			case <-ctx.Done():
				return fmt.Errorf("stream %s: %w", sc.Name, err)
			case <-time.After(delay):
			}
		}
	}
	return nil
}

// Subject returns the subject of an event type, e.g. "whistle.v1.reported".
func (b *Bus) Subject(eventType string) string { return b.cfg.Prefix + ".v1." + eventType }

// EventType returns the event type of a subject made by Subject.
func (b *Bus) EventType(subject string) string {
	return strings.TrimPrefix(subject, b.cfg.Prefix+".v1.")
}

// DLQSubject returns the dead-letter subject of a consumer.
func (b *Bus) DLQSubject(consumer string) string { return b.cfg.Prefix + ".dlq." + consumer }

// JetStream returns the JetStream context.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Conn returns the NATS connection.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// Stream returns the events stream's name.
func (b *Bus) Stream() string { return b.cfg.Stream }

// Close drains the connection (pending publishes are flushed), waiting up to
// 5 s, and closes it.
func (b *Bus) Close() {
	if err := b.nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		b.nc.Close()
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for !b.nc.IsClosed() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	b.nc.Close()
}
