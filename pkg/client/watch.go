package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/whistle-civic/whistle/pkg/backoff"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// Watch calls handle with every change to a department's inbox after
// req.AfterCursor (or, with req.FromNow, after the newest one), in order,
// then with each new change as it happens, until
// ctx ends (it then returns nil), handle returns ErrStop (nil) or another
// error (that error), or the server refuses the watch for a reason no retry
// cures (the status). When the stream breaks, or stays silent for three
// heartbeat intervals, Watch reconnects with backoff and resumes after the
// last change handled: no change is missed or handled twice.
func (c *Client) Watch(ctx context.Context, req *whistlev1.WatchInboxRequest, handle func(*whistlev1.InboxChange) error) error {
	hb := req.GetHeartbeatInterval().AsDuration()
	if hb == 0 {
		hb = 15 * time.Second
	}
	cursor, fromNow := req.GetAfterCursor(), req.GetFromNow()
	for failures := 0; ; {
		progressed, err := c.watchOnce(ctx, req.GetDepartmentId(), hb, &cursor, &fromNow, handle)
		switch {
		case ctx.Err() != nil || errors.Is(err, ErrStop):
			return nil
		case errors.As(err, new(handlerError)):
			return errors.Unwrap(err)
		case !retryable(err):
			return err
		}
		if progressed {
			failures = 0
		}
		failures++
		wait := backoff.Delay(failures, c.o.backoff, c.o.maxBackoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

type handlerError struct{ error }

func (e handlerError) Unwrap() error { return e.error }

// watchOnce follows one stream until it ends; it reports whether anything arrived.
func (c *Client) watchOnce(ctx context.Context, dept string, hb time.Duration, cursor *string, fromNow *bool,
	handle func(*whistlev1.InboxChange) error) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.response.WatchInbox(ctx, &whistlev1.WatchInboxRequest{DepartmentId: dept, AfterCursor: *cursor,
		HeartbeatInterval: durationpb.New(hb), FromNow: *fromNow})
	if err != nil {
		return false, err
	}
	silent := time.AfterFunc(3*hb, cancel) // the server went quiet: reconnect
	defer silent.Stop()
	progressed := false
	for {
		msg, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil && !progressed {
				return progressed, status.Error(codes.Unavailable, "watch stream silent")
			}
			return progressed, err
		}
		silent.Reset(3 * hb)
		progressed, *fromNow = true, false // from here on, resume from the cursor
		ch := msg.GetChange()
		if ch == nil {
			*cursor = msg.GetHeartbeatCursor()
			continue
		}
		if err := handle(ch); err != nil {
			if errors.Is(err, ErrStop) {
				return progressed, err
			}
			return progressed, handlerError{fmt.Errorf("watch handler: %w", err)}
		}
		*cursor = ch.GetCursor()
	}
}

// retryable reports whether a broken watch is worth reconnecting.
func retryable(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.NotFound, codes.PermissionDenied, codes.Unauthenticated,
		codes.FailedPrecondition, codes.Unimplemented, codes.OutOfRange:
		return false
	}
	return true
}
