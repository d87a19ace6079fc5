package grpcserver

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
// through; errors with an apperr kind get its code and their own message;
// invalid ticket transitions are FailedPrecondition; an unreachable database
// is Unavailable; cancelled and timed-out calls keep those codes. Anything
// else is an internal fault: the caller gets the trace id to quote, never
// the details.
func ToStatus(ctx context.Context, err error) *status.Status {
	if st, ok := status.FromError(err); ok {
		return st
	}
	if code, ok := kindCodes[apperr.KindOf(err)]; ok {
		return status.New(code, err.Error())
	}
	switch {
	case errors.Is(err, ticket.ErrInvalidTransition):
		return status.New(codes.FailedPrecondition, err.Error())
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, "the call was cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, "the call ran out of time; retry, perhaps with a longer deadline")
	case postgres.IsUnavailable(err):
		return status.New(codes.Unavailable, "the database is unreachable; nothing was changed; retry shortly")
	}
	if id := telemetry.TraceID(ctx); id != "" {
		return status.New(codes.Internal, fmt.Sprintf(
			"internal error (trace %s): nothing was changed; retry, and if it persists give the trace id to the operators", id))
	}
	return status.New(codes.Internal, "internal error: nothing was changed; retry, and if it persists tell the operators the time of the call")
}
