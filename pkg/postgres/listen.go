package postgres

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/backoff"
	"github.com/whistle-civic/whistle/pkg/clock"
)

// Listener holds a connection of its own LISTENing on some channels, for as
// long as it runs, and hands each notification over. It is the one LISTEN
// loop of Whistle: the outbox relays, the inbox watchers and dispatch's
// catalog reload all use it.
type Listener struct {
	// DB gives the connection settings (a new connection, outside the pool).
	DB *DB
	// Channels to LISTEN on.
	Channels []string
	// Notify is called with each notification's channel and payload, one at
	// a time, on the listener's goroutine.
	Notify func(channel, payload string)
	// Connected, when set, is called after every (re)connection: what was
	// notified while the listener was away is lost, so catch up then.
	Connected func()
	// Retry is the first wait before reconnecting after a failure; it
	// doubles while failures repeat, up to 30 s (pkg/backoff). Default 1 s.
	Retry time.Duration
	// Log hears of lost connections. Default: discard.
	Log *slog.Logger
}

// Run listens until ctx ends, reconnecting after failures.
func (l Listener) Run(ctx context.Context) {
	if l.Retry <= 0 {
		l.Retry = time.Second
	}
	if l.Log == nil {
		l.Log = slog.New(slog.DiscardHandler)
	}
	for failures := 1; ctx.Err() == nil; failures++ {
		start := time.Now()
		err := l.once(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			failures = 1 // it was up a while: this is a new failure, not one more of a row
		}
		wait := backoff.Delay(failures, l.Retry, 30*time.Second)
		l.Log.Warn("LISTEN connection lost; reconnecting", "channels", l.Channels, "err", err, "retry_in", wait)
		clock.Sleep(ctx, wait)
	}
}

func (l Listener) once(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, l.DB.Pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, ch := range l.Channels {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return err
		}
	}
	if l.Connected != nil {
		l.Connected()
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		l.Notify(n.Channel, n.Payload)
	}
}
