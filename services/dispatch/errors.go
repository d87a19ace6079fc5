package dispatch

import "github.com/whistle-civic/whistle/pkg/apperr"

// The dispatch service's errors; the API edge maps their kinds to gRPC codes.
var (
	// ErrNotFound: dispatch has not seen the ticket (yet).
	ErrNotFound = apperr.New(apperr.NotFound,
		"no assignment for this ticket: check the id; a ticket just reported reaches dispatch within moments")
)
