package grpcserver

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/whistle-civic/whistle/pkg/apperr"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/telemetry"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

var kindCodes = map[apperr.Kind]codes.Code{
	apperr.InvalidArgument:    codes.InvalidArgument,
	apperr.NotFound:           codes.NotFound,
	apperr.FailedPrecondition: codes.FailedPrecondition,
	apperr.AlreadyExists:      codes.AlreadyExists,
	apperr.PermissionDenied:   codes.PermissionDenied,
	apperr.Unauthenticated:    codes.Unauthenticated,
	apperr.Unavailable:        codes.Unavailable,
	apperr.ResourceExhausted:  codes.ResourceExhausted,
}

// ToStatus is the one place where errors become gRPC statuses. Statuses pass
// through; errors with an apperr kind get its code and their own message
// (NotFound errors the bare message of their kind's error, so that a thing
// outside the caller's place reads exactly like a missing one),
// a google.rpc.RetryInfo detail when they carry apperr.WithRetryAfter and an
// ErrorInfo detail when they name a reason (apperr.Error.WithReason);
// invalid ticket transitions are FailedPrecondition; an unreachable database
// (postgres.IsUnavailable) is Unavailable, with a message saying to retry;
// a deadlock or serialization failure (postgres.IsConflict) is Aborted;
// cancelled and timed-out calls keep those codes. Anything
// else is an internal fault: the caller gets the trace id to quote, never
// the details.
func ToStatus(ctx context.Context, err error) *status.Status {
	if st, ok := status.FromError(err); ok {
		return st
	}
	if code, ok := kindCodes[apperr.KindOf(err)]; ok {
		msg := err.Error()
		if code == codes.NotFound {
			// What is missing and what lies outside the caller's place must
			// read alike, word for word: the error's own message, without the
			// context it was wrapped in (which the log line keeps).
			msg = apperr.MessageOf(err)
		}
		st := status.New(code, msg)
		if d, ok := apperr.RetryAfterOf(err); ok { // a hint of when to retry: a RetryInfo detail
			if detailed, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)}); derr == nil {
				st = detailed
			}
		}
		if reason := apperr.ReasonOf(err); reason != "" { // a reason a caller acts on: an ErrorInfo detail
			if detailed, derr := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: apperr.Domain}); derr == nil {
				st = detailed
			}
		}
		return st
	}
	switch {
	case errors.Is(err, ticket.ErrInvalidTransition):
		return status.New(codes.FailedPrecondition, err.Error())
	case postgres.IsUnavailable(err):
		// Before the deadline case: a deadline met while connecting or
		// waiting for a connection is the database's absence, not the call's.
		return status.New(codes.Unavailable, postgres.AsUnavailable(err).Error())
	case postgres.IsConflict(err):
		return status.New(codes.Aborted, "the change collided with another one made at the same moment and was not made; retry it")
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, "the call was cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, "the call ran out of time; retry, perhaps with a longer deadline")
	}
	if id := telemetry.TraceID(ctx); id != "" {
		return status.New(codes.Internal, fmt.Sprintf(
			"internal error (trace %s): nothing was changed; retry, and if it persists give the trace id to the operators", id))
	}
	return status.New(codes.Internal, "internal error: nothing was changed; retry, and if it persists tell the operators the time of the call")
}
