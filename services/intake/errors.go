package intake

import "github.com/whistle-civic/whistle/pkg/apperr"

// The intake service's errors; the API edge maps their kinds to gRPC codes.
var (
	// ErrNotFound: no ticket has that id or number.
	ErrNotFound = apperr.New(apperr.NotFound, "ticket not found: check the id or number (ListTickets shows what exists)")
	// ErrKeyReused: an idempotency key was sent again with a different report.
	ErrKeyReused = apperr.New(apperr.FailedPrecondition,
		"idempotency key already used for a different report: use a new key for a new whistle, or resend the original report unchanged")
	// ErrBlank: a required text is only white space.
	ErrBlank = apperr.New(apperr.InvalidArgument, "description must contain more than white space")
	// ErrBadPageToken: the page token was not made by this service.
	ErrBadPageToken = apperr.New(apperr.InvalidArgument, "page_token is not valid: pass the next_page_token of the previous response, or none for the first page")
	// ErrBusy: the reports already accepted are too far behind on their way
	// to dispatch (see Backpressure); the whistle was not recorded. Returned
	// wrapped, saying what is behind and by how much, with a retry hint.
	ErrBusy = apperr.New(apperr.ResourceExhausted, "intake is busy, the whistle was not recorded")
)
