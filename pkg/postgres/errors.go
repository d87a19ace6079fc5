package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/whistle-civic/whistle/pkg/apperr"
)

// errUnavailableKind gives UnavailableError its apperr kind.
var errUnavailableKind = apperr.New(apperr.Unavailable, "the database is unavailable")

// UnavailableError is a connection-level failure (the server is down,
// restarting, unreachable or dropped the connection) told as callers should
// read it. Its apperr kind is Unavailable, so pkg/grpcserver answers it with
// codes.Unavailable, and it wraps the original error for the logs.
type UnavailableError struct {
	// Cause says briefly what happened, e.g. "connection refused".
	Cause string
	// Err is the driver's error.
	Err error
}

// Error is the message callers get.
func (e *UnavailableError) Error() string {
	return fmt.Sprintf("the database is unavailable (%s): retry in a moment; Whistle reconnects by itself", e.Cause)
}

// Unwrap exposes the apperr kind first, then the driver's error.
func (e *UnavailableError) Unwrap() []error { return []error{errUnavailableKind, e.Err} }

// AsUnavailable returns err as an *UnavailableError when IsUnavailable(err),
// and err unchanged otherwise.
func AsUnavailable(err error) error {
	var ue *UnavailableError
	if errors.As(err, &ue) {
		return ue
	}
	if cause := unavailableCause(err); cause != "" {
		return &UnavailableError{Cause: cause, Err: err}
	}
	return err
}

// IsUnavailable reports whether err means the database could not be reached
// or went away (as opposed to a query being wrong, or the caller giving up),
// so the same call may succeed once the server is back; the pool reconnects
// by itself. It recognises:
//
//   - a failed connection attempt (*pgconn.ConnectError), unless the server
//     refused us for good (bad password, no such database);
//   - a network failure on an open connection (*net.OpError, connection
//     refused/reset, broken pipe) or its end (io.EOF, io.ErrUnexpectedEOF),
//     and a connection pgx already found broken ("conn closed");
//   - server errors of SQLSTATE class 08 (connection exception), 57P01 admin
//     shutdown, 57P02 crash shutdown, 57P03 cannot connect now (starting up)
//     and 53300 too many connections;
//   - a deadline met while waiting for a connection from the pool (see
//     DB.InTx); a deadline met while a query runs is not: that is the
//     caller's DeadlineExceeded.
//
// A call cancelled by its caller is never "unavailable".
func IsUnavailable(err error) bool { return unavailableCause(err) != "" }

// unavailableCause returns a short cause when err is a connection-level
// failure, and "" otherwise.
func unavailableCause(err error) string {
	if err == nil || errors.Is(err, context.Canceled) {
		return ""
	}
	var ue *UnavailableError
	if errors.As(err, &ue) {
		return ue.Cause
	}
	var ae *acquireError
	if errors.As(err, &ae) {
		return "no connection could be had within the call's deadline"
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// A connect attempt the server answered with an error is unavailable
		// only when the error is a passing one; any error on an open
		// connection is judged the same way.
		return serverCause(pe)
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		if c := networkCause(err); c != "" {
			return c
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return "no answer within the connect timeout"
		}
		return "cannot connect"
	}
	if c := networkCause(err); c != "" {
		return c
	}
	if pgconn.Timeout(err) && !errors.Is(err, context.DeadlineExceeded) {
		return "network timeout"
	}
	return ""
}

// serverCause judges an error the server sent.
func serverCause(pe *pgconn.PgError) string {
	switch {
	case pe.Code == "57P01":
		return "the server is shutting down"
	case pe.Code == "57P02":
		return "the server crashed"
	case pe.Code == "57P03":
		return "the server is starting up"
	case pe.Code == "53300":
		return "too many connections"
	case strings.HasPrefix(pe.Code, "08"):
		return "connection failure, SQLSTATE " + pe.Code
	}
	return ""
}

// networkCause names a network-level failure, or returns "". Error numbers
// count only inside a network error or a failed connection attempt (a
// missing file elsewhere is no missing server).
func networkCause(err error) string {
	var oe *net.OpError
	var ce *pgconn.ConnectError
	if errors.As(err, &oe) || errors.As(err, &ce) {
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return "connection refused"
		case errors.Is(err, syscall.ENOENT):
			return "no server at the socket" // a unix socket that is gone: the server stopped
		case errors.Is(err, syscall.ECONNRESET):
			return "connection reset"
		case errors.Is(err, syscall.EPIPE):
			return "connection broken"
		}
	}
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection lost"
	case errors.Is(err, pgconn.ErrConnClosed):
		return "connection lost" // pgx's mark of a connection it already found broken
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, context.DeadlineExceeded) {
		return "network timeout"
	}
	if oe != nil {
		return "network error on " + oe.Op
	}
	return ""
}

// acquireError marks a deadline met while waiting for a pooled connection.
type acquireError struct{ err error }

func (e *acquireError) Error() string { return "acquire a connection: " + e.err.Error() }
func (e *acquireError) Unwrap() error { return e.err }

// acquireFailed marks err, returned by Pool.Begin, when it is the bare
// context deadline pgxpool reports while it waits for (or opens) a
// connection; an error of the BEGIN statement itself comes wrapped by pgconn.
func acquireFailed(err error) error {
	if err == context.DeadlineExceeded { //nolint:errorlint // the bare sentinel is exactly what marks the pool's wait
		return &acquireError{err: err}
	}
	return err
}

// IsUniqueViolation reports whether err is a unique-constraint violation.
func IsUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// IsConflict reports whether err is a deadlock (40P01) or a serialization
// failure (40001): the transaction lost a race with another one and the same
// work will succeed when tried again.
func IsConflict(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}
