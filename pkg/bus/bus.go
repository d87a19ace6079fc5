// Package bus is Whistle's JetStream plumbing: the connection, the WHISTLE
// stream and its dead-letter stream, subjects, and durable pull consumers with
// explicit acks, bounded redelivery with backoff and dead-lettering.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/whistle-civic/whistle/pkg/backoff"
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
	// KeepStreamSettings makes Connect leave a stream whose settings differ
	// from this configuration as the servers hold it (and log the
	// difference), for a user that may not update streams: every service but
	// dispatch (UpdatesStreams). It still creates missing streams. Default
	// false: Connect updates the stream.
	KeepStreamSettings bool
	// Auth is how the connection logs in: a user and password, an nkey seed
	// or a .creds file (see Auth). Default: no credentials, which a server
	// with users refuses (Connect fails with ErrNotAuthorized).
	Auth Auth
	// TLS secures the connection: a CA to verify the servers with and a
	// client certificate for mutual TLS (see TLS). Default: plain text,
	// unless URL uses tls://.
	TLS TLS
	// Log receives connection events. Default: discard.
	Log *slog.Logger
}

// LogValue shows the configuration without secrets: the URL's password
// and Auth's are masked.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", MaskURL(c.URL)), slog.String("name", c.Name),
		slog.String("stream", c.Stream), slog.Any("auth", c.Auth), slog.Bool("tls", c.TLS.Enabled() || strings.Contains(c.URL, "tls://")),
		slog.Bool("client_cert", c.TLS.Cert != ""))
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
	// oneFilter is set once the servers refused several filter subjects for
	// one consumer (see ConsumerConfig.Name).
	oneFilter atomic.Bool
}

// Connect connects, then creates the events and dead-letter streams when
// missing (updating one only when a setting of Config differs), retrying for
// up to cfg.ConnectWait while the server is unreachable. The connection
// reconnects for ever afterwards. It fails at once when cfg's credentials or
// TLS files are unusable, and with ErrNotAuthorized when the servers refuse
// the credentials. Operations the servers refuse later (a publish outside
// the user's permissions) are logged as errors.
func Connect(ctx context.Context, cfg Config, opts ...nats.Option) (*Bus, error) {
	cfg.defaults()
	secure, err := cfg.ConnectOptions()
	if err != nil {
		return nil, err
	}
	log := cfg.Log
	refused := &lastError{}
	opts = append(append([]nats.Option{
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
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) { refused.set(err) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Error("NATS refused an operation; check this connection's NATS permissions", "user", cfg.Auth.User, "err", err)
		}),
	}, secure...), opts...)
	url := cfg.URL
	if url == "" {
		url = nats.DefaultURL
	}
	nc, err := dial(url, opts)
	if err != nil {
		return nil, connectError(url, cfg, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	b := &Bus{nc: nc, js: js, cfg: cfg}
	if err := b.ensureStreams(ctx, refused); err != nil {
		nc.Close()
		if errors.Is(err, ErrNotAuthorized) {
			return nil, connectError(url, cfg, err)
		}
		return nil, fmt.Errorf("set up JetStream streams on %s: %w (is NATS running with JetStream enabled (-js)? check WHISTLE_NATS_URL)", MaskURL(url), err)
	}
	return b, nil
}

// ensureStreams puts both streams in place, retrying while JetStream is not
// ready, for up to ConnectWait, but not once the servers refused the
// credentials.
func (b *Bus) ensureStreams(ctx context.Context, refused *lastError) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.ConnectWait)
	defer cancel()
	for _, sc := range b.streamConfigs() {
		for try := 1; ; try++ {
			err := b.ensureStream(ctx, sc)
			if err == nil {
				break
			}
			if r := refused.refusal(); r != nil {
				return r
			}
			if ctx.Err() != nil {
				return fmt.Errorf("stream %s: %w", sc.Name, err)
			}
			b.cfg.Log.Warn("JetStream not ready, retrying", "stream", sc.Name, "err", err)
			select {
			case <-ctx.Done():
				return fmt.Errorf("stream %s: %w", sc.Name, err)
			case <-time.After(backoff.Delay(try, 100*time.Millisecond, 2*time.Second)):
			}
		}
	}
	return nil
}

// streamConfigs are the events stream and its dead-letter stream as the
// configuration wants them.
func (b *Bus) streamConfigs() []jetstream.StreamConfig {
	return []jetstream.StreamConfig{{
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
}

// ensureStream creates the stream when it is missing and updates it only
// when what the configuration sets differs from what the server holds. Every
// service connects with the same configuration, so once the stream exists
// nobody updates it: a stream update racing the creation of a consumer (by
// another service of the same process, or another replica) is never sent.
func (b *Bus) ensureStream(ctx context.Context, want jetstream.StreamConfig) error {
	s, err := b.js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = b.js.CreateStream(ctx, want)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) { // created meanwhile by another connection
			return b.ensureStream(ctx, want)
		}
		return err
	}
	if err != nil {
		return err
	}
	if sameStream(s.CachedInfo().Config, want) {
		return nil
	}
	if b.cfg.KeepStreamSettings {
		b.cfg.Log.Warn("the stream's settings differ from this configuration; leaving them to dispatch, which updates them when it starts",
			"stream", want.Name)
		return nil
	}
	b.cfg.Log.Info("updating stream to the configured settings", "stream", want.Name)
	_, err = b.js.UpdateStream(ctx, want)
	return err
}

// sameStream reports whether the server's stream config has every setting
// Whistle configures as wanted (the server fills in the others itself).
func sameStream(have, want jetstream.StreamConfig) bool {
	return have.Description == want.Description && slices.Equal(have.Subjects, want.Subjects) &&
		have.Storage == want.Storage && have.Replicas == want.Replicas && have.Duplicates == want.Duplicates &&
		have.MaxAge == want.MaxAge && have.Retention == want.Retention
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
