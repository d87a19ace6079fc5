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
	// ErrNotEvaluator: the evaluator is not the reporting community's officer.
	ErrNotEvaluator = apperr.New(apperr.PermissionDenied,
		"only an officer of the community that reported the ticket may give the community's verdict, naming that community "+
			"(or the resident with the ticket's evaluation code, or a hotline follow-up by the hotline's system)")
	// ErrNotHotline: a follow-up call's verdict from credentials that are
	// not a hotline's or another government system's.
	ErrNotHotline = apperr.New(apperr.PermissionDenied,
		"a hotline follow-up (回访) is recorded by the hotline's own system credentials (role system): give the community's verdict instead, or ask the hotline")
	// ErrResidentOnly: a resident's verdict from credentials, or a code
	// caller claiming another source.
	ErrResidentOnly = apperr.New(apperr.PermissionDenied,
		"with an evaluation code and no credentials, only the resident's verdict may be given (source RESIDENT); "+
			"with credentials, give your own source (community or hotline follow-up) and no code")
	// ErrOwnTicket: the department that handled the ticket judges it.
	ErrOwnTicket = apperr.New(apperr.PermissionDenied, "the department that handled a ticket may not judge its result")
	// ErrBadCode: the resident's code does not match.
	ErrBadCode = apperr.New(apperr.PermissionDenied,
		"the evaluation code does not match this ticket: use the code given when the whistle was reported")
	// ErrCodeLocked: too many wrong codes were tried on the ticket.
	ErrCodeLocked = apperr.New(apperr.FailedPrecondition,
		"this ticket's evaluation code is locked after too many wrong tries: the community officer or the 12345 hotline can record your verdict")
	// ErrCodeUsed: the code already gave this round's verdict.
	ErrCodeUsed = apperr.New(apperr.FailedPrecondition,
		"this evaluation code has already given this round's verdict: it can be used again once the ticket is resolved again")
	// ErrCodesOff: this deployment has no evaluation code keys.
	ErrCodesOff = apperr.New(apperr.FailedPrecondition,
		"this deployment takes no evaluation codes (no keys configured): ask the community officer or the 12345 hotline to record your verdict")
	// ErrBadPageToken: the page token was not made by this service.
	ErrBadPageToken = apperr.New(apperr.InvalidArgument,
		"page_token is not valid: pass the next_page_token of the previous response, or none for the first page")
	// ErrPhotosSatisfied: photos go with an unsatisfied verdict only.
	ErrPhotosSatisfied = apperr.New(apperr.InvalidArgument,
		"photos go with an unsatisfied verdict only: they show what is still wrong; judge without them")
)
