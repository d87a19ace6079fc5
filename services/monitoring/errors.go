package monitoring

import "github.com/whistle-civic/whistle/pkg/apperr"

// The monitoring service's errors; the API edge maps their kinds to gRPC codes.
var (
	// ErrNotFound: no event about the ticket has been projected.
	ErrNotFound = apperr.New(apperr.NotFound,
		"no events about this ticket: check the id; a ticket just reported appears within moments")
)
