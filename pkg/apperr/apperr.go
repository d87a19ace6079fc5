// Package apperr gives errors a kind that the API edge turns into a gRPC status
// code, in one place (pkg/grpcserver). Services declare their sentinel errors
// with New in their errors.go and wrap them with context:
//
//	var ErrNotAccepted = apperr.New(apperr.FailedPrecondition, "ticket is not accepted: accept it first")
//	return fmt.Errorf("resolve %s: %w", id, ErrNotAccepted)
package apperr

import (
	"errors"
	"time"
)

// Kind classifies an error for callers.
type Kind int

const (
	// Internal is a fault of ours; callers cannot fix it by changing the request.
	Internal Kind = iota
	// InvalidArgument means the request itself is wrong.
	InvalidArgument
	// NotFound means what the request names does not exist (or is out of the caller's sight).
	NotFound
	// FailedPrecondition means the request is fine but the state does not allow it now.
	FailedPrecondition
	// AlreadyExists means the thing to create is there already.
	AlreadyExists
	// PermissionDenied means the caller may not do this.
	PermissionDenied
	// Unauthenticated means the caller's identity could not be established.
	Unauthenticated
	// Unavailable means a dependency is down; retrying later may work.
	Unavailable
	// ResourceExhausted means the caller must slow down.
	ResourceExhausted
)

// Error is an error with a Kind.
type Error struct {
	kind   Kind
	msg    string
	reason string
}

// New returns an error of the given kind. The message should say what is wrong
// and what to do next.
func New(kind Kind, msg string) *Error { return &Error{kind: kind, msg: msg} }

// WithReason returns a copy of e that also names a machine-readable reason
// (UPPER_SNAKE_CASE, e.g. "HELD_BY_RESPONSE"), for callers that act on it
// rather than on the message; the API edge sends it as a google.rpc.ErrorInfo
// detail. The copy is a distinct sentinel: errors.Is tells the two apart.
func (e *Error) WithReason(reason string) *Error {
	c := *e
	c.reason = reason
	return &c
}

// Domain is the google.rpc.ErrorInfo domain of the reasons errors name.
const Domain = "whistle.v1"

// The reasons callers act on.
const (
	// ReasonHeldByResponse: the ticket is in a department's inbox; the
	// ResponseService takes the call instead (WithdrawFromInbox, MergeFromInbox).
	ReasonHeldByResponse = "HELD_BY_RESPONSE"
	// ReasonHeldByDispatch: the ticket is not in a department's inbox; the
	// DispatchService takes the call instead (Withdraw, Merge).
	ReasonHeldByDispatch = "HELD_BY_DISPATCH"
)

// ReasonOf returns the reason of the first *Error in err's chain ("" when it
// names none).
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.reason
	}
	return ""
}

// Error returns the message.
func (e *Error) Error() string { return e.msg }

// Kind returns the error's kind.
func (e *Error) Kind() Kind { return e.kind }

// MessageOf returns the message of the first *Error in err's chain, without
// the context it was wrapped in; err's whole message when there is none.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.msg
	}
	return err.Error()
}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.kind
	}
	return Internal
}

// retryAfter is an error with a hint of when to try again.
type retryAfter struct {
	err   error
	after time.Duration
}

func (r *retryAfter) Error() string { return r.err.Error() }
func (r *retryAfter) Unwrap() error { return r.err }

// WithRetryAfter returns err with a hint that the call may succeed if made
// again after d. Its message and kind are err's; the API edge turns the hint
// into a google.rpc.RetryInfo detail. It returns err unchanged when err is nil
// or d is not positive.
func WithRetryAfter(err error, d time.Duration) error {
	if err == nil || d <= 0 {
		return err
	}
	return &retryAfter{err: err, after: d}
}

// RetryAfterOf returns the hint of the first error in err's chain made by
// WithRetryAfter, if any.
func RetryAfterOf(err error) (time.Duration, bool) {
	var r *retryAfter
	if errors.As(err, &r) {
		return r.after, true
	}
	return 0, false
}
