package auth

import (
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/apperr"
)

// ErrUnauthenticated is wrapped by every error of this package that means
// the caller's identity could not be established: a bad or expired token,
// an unknown client certificate, no credentials at all. Test for it with
// errors.Is; its kind is apperr.Unauthenticated.
var ErrUnauthenticated = apperr.New(apperr.Unauthenticated,
	"unauthenticated: send a bearer token or a client certificate")

// authError says which check failed and what to do. It wraps
// ErrUnauthenticated and is also a gRPC status of code Unauthenticated, so
// an interceptor may return it as is, inside pkg/grpcserver or outside it.
type authError struct{ msg string }

// unauthenticated returns an authError with a formatted message.
func unauthenticated(format string, args ...any) error {
	return &authError{msg: fmt.Sprintf(format, args...)}
}

// Unauthenticated returns an error wrapping ErrUnauthenticated that is also
// a codes.Unauthenticated status, with a formatted message that should say
// what to do (for a check made outside this package, as of an API key).
func Unauthenticated(format string, args ...any) error { return unauthenticated(format, args...) }

func (e *authError) Error() string { return e.msg }

func (e *authError) Unwrap() error { return ErrUnauthenticated }

// GRPCStatus makes the error a codes.Unauthenticated status with its message.
func (e *authError) GRPCStatus() *status.Status { return status.New(codes.Unauthenticated, e.msg) }

// clip shortens s, which may come from a caller, for an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
