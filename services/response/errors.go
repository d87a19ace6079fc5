package response

import (
	"github.com/whistle-civic/whistle/pkg/apperr"
)

// The response service's errors; the API edge maps their kinds to gRPC codes.
var (
	// ErrNotFound: the ticket is not in any inbox.
	ErrNotFound = apperr.New(apperr.NotFound,
		"ticket is in no department's inbox: check the id; a ticket reaches the inbox once dispatched")
	// ErrNotYours: the actor acts for another department.
	ErrNotYours = apperr.New(apperr.PermissionDenied,
		"the ticket is assigned to another department: act for the department that holds it (actor.org_unit_id)")
	// ErrBadPageToken: the page token was not made by this service.
	ErrBadPageToken = apperr.New(apperr.InvalidArgument,
		"page_token is not valid: pass the next_page_token of the previous response, or none for the first page")
)
