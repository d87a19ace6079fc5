// Package idempotency makes retried calls safe. A caller names each mutating
// call with a request id; Do runs the call once per (scope, id), in the same
// transaction as its effect, and stores the response, so a retry gets the
// first response and changes nothing — even when the retry arrives while the
// first call is still running (it waits for it).
package idempotency

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/apperr"
	"github.com/whistle-civic/whistle/pkg/postgres"
)

// ErrReused: a request id came back with another method.
var ErrReused = apperr.New(apperr.InvalidArgument,
	"request_id was already used for another call: use a new request id for each new call")

// Do returns fn's response for (scope, requestID), running fn only the first
// time. fn runs in a transaction (joined by the service's own InTx calls)
// that concurrent calls may share (postgres.DB.InGroupTx: fn may run twice,
// and only its last run counts); failures are not stored, so a failed call
// may be retried with the same id. An empty requestID runs fn without any of
// this, in a shared transaction all the same.
func Do[T proto.Message](ctx context.Context, db *postgres.DB, scope, requestID, method string, fn func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	var out T
	if requestID == "" {
		err := db.InGroupTx(ctx, func(ctx context.Context, _ pgx.Tx) (err error) {
			out, err = fn(ctx)
			return err
		})
		return out, err
	}
	err := db.InGroupTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO requests (scope, request_id, method) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, scope, requestID, method)
		if err != nil {
			return fmt.Errorf("record request %s: %w", requestID, err)
		}
		if tag.RowsAffected() == 0 {
			return replay(ctx, tx, scope, requestID, method, &out)
		}
		if out, err = fn(ctx); err != nil {
			return err
		}
		b, err := proto.Marshal(out)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE requests SET response = $3 WHERE scope = $1 AND request_id = $2`, scope, requestID, b)
		return err
	})
	if err != nil {
		return zero, err
	}
	return out, nil
}

// replay reads the stored response of an earlier call into out.
func replay[T proto.Message](ctx context.Context, tx pgx.Tx, scope, requestID, method string, out *T) error {
	var stored string
	var b []byte
	err := tx.QueryRow(ctx, `SELECT method, response FROM requests WHERE scope = $1 AND request_id = $2`, scope, requestID).Scan(&stored, &b)
	if errors.Is(err, pgx.ErrNoRows) || b == nil {
		return fmt.Errorf("request %s is being handled: retry in a moment", requestID)
	}
	if err != nil {
		return err
	}
	if stored != method {
		return fmt.Errorf("%s %s: %w (it was a %s)", method, requestID, ErrReused, stored)
	}
	msg := (*out).ProtoReflect().New().Interface()
	if err := proto.Unmarshal(b, msg); err != nil {
		return fmt.Errorf("stored response of %s: %w", requestID, err)
	}
	*out = msg.(T)
	return nil
}
