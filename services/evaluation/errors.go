package evaluation

import "github.com/whistle-civic/whistle/pkg/apperr"

// The evaluation service's errors; the API edge maps their kinds to gRPC codes.
var (
	// ErrNotFound: the ticket has never been resolved.
	ErrNotFound = apperr.New(apperr.NotFound,
		"no evaluation for this ticket: it has not been resolved yet (or the id is wrong)")
	// ErrAlreadyEvaluated: the current round has its verdict.
	ErrAlreadyEvaluated = apperr.New(apperr.FailedPrecondition,
		"this round already has a verdict: a ticket can be judged again only after it is resolved again")
	// ErrWindowClosed: the evaluation window has passed.
	ErrWindowClosed = apperr.New(apperr.FailedPrecondition,
		"the evaluation window has closed: the ticket is closed with the default verdict")
	// ErrNotEvaluator: the evaluator is not the reporting community.
	ErrNotEvaluator = apperr.New(apperr.PermissionDenied,
		"only the community that reported the ticket may evaluate it (or the resident with the ticket's evaluation code, or a hotline follow-up)")
	// ErrBadCode: the resident's code does not match.
	ErrBadCode = apperr.New(apperr.PermissionDenied,
		"the evaluation code does not match this ticket: use the code given when the whistle was reported")
	// ErrBadPageToken: the page token was not made by this service.
	ErrBadPageToken = apperr.New(apperr.InvalidArgument,
		"page_token is not valid: pass the next_page_token of the previous response, or none for the first page")
)
