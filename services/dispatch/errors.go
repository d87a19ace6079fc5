package dispatch

import "github.com/whistle-civic/whistle/pkg/apperr"

// The dispatch service's errors; the API edge maps their kinds to gRPC codes.
var (
	// ErrNotFound: dispatch has not seen the ticket (yet).
	ErrNotFound = apperr.New(apperr.NotFound,
		"no assignment for this ticket: check the id; a ticket just reported reaches dispatch within moments")
	// ErrNotInTriage: the ticket does not wait for a person.
	ErrNotInTriage = apperr.New(apperr.FailedPrecondition,
		"the ticket does not wait in triage: only tickets listed by ListTriage can be dispatched by hand or rejected")
	// ErrNotInArbitration: the ticket does not wait for an arbitration decision.
	ErrNotInArbitration = apperr.New(apperr.FailedPrecondition,
		"the ticket does not wait for arbitration: only returned tickets sent to arbitration can be arbitrated")
	// ErrArbitrationPending: a returned ticket must be arbitrated, not dispatched or rejected.
	ErrArbitrationPending = apperr.New(apperr.FailedPrecondition,
		"the ticket waits for arbitration: decide its department with Arbitrate")
	// ErrOutOfArea: the officer or department is outside the ticket's area.
	ErrOutOfArea = apperr.New(apperr.PermissionDenied, "outside your area")
	// ErrUnknownDepartment: no such department in the active catalog.
	ErrUnknownDepartment = apperr.New(apperr.InvalidArgument,
		"unknown department (GetCatalog lists them)")
	// ErrBadWindows: resolve window shorter than the accept window.
	ErrBadWindows = apperr.New(apperr.InvalidArgument, "resolve_within must be at least accept_within")
	// ErrNoExtensionPending: nothing to decide.
	ErrNoExtensionPending = apperr.New(apperr.FailedPrecondition,
		"no request for more time is pending on this ticket")
	// ErrExtensionTooEarly: a granted deadline must be later than the current one.
	ErrExtensionTooEarly = apperr.New(apperr.InvalidArgument,
		"resolve_due must be later than the current resolve deadline")
	// ErrCatalogNotFound: no stored catalog has that version.
	ErrCatalogNotFound = apperr.New(apperr.NotFound, "no catalog with that version (ListCatalogs shows them)")
	// ErrCatalogVersionTaken: the version exists with other content.
	ErrCatalogVersionTaken = apperr.New(apperr.AlreadyExists,
		"a catalog with this version but different content exists: versions are immutable, give the new catalog a new version")
	// ErrBadPageToken: the page token was not made by this service.
	ErrBadPageToken = apperr.New(apperr.InvalidArgument,
		"page_token is not valid: pass the next_page_token of the previous response, or none for the first page")
	// ErrNothingToExplain: ExplainRouting needs a ticket, or a category and grid.
	ErrNothingToExplain = apperr.New(apperr.InvalidArgument,
		"name a ticket_id, or a category (and grid_id) to explain")
)

// Withdrawal's and merge's refusals.
var (
	// ErrHeldByResponse: the ticket waits in a department's inbox, where the
	// response service decides (WithdrawFromInbox, MergeFromInbox).
	ErrHeldByResponse = apperr.New(apperr.FailedPrecondition,
		"the ticket is in a department's inbox: call ResponseService.WithdrawFromInbox or MergeFromInbox "+
			"(whistlectl and the Go client do so by themselves)").WithReason(apperr.ReasonHeldByResponse)
	// ErrInHand: a department accepted the ticket; it can no longer be taken back.
	ErrInHand = apperr.New(apperr.FailedPrecondition,
		"a department has accepted the ticket, so it can no longer be withdrawn or merged: ask the department "+
			"(it may return it if it is not theirs), or judge its result when it is resolved")
)

// ErrOriginalNotFound: dispatch knows no such original (or it lies outside the caller's area).
var ErrOriginalNotFound = apperr.New(apperr.NotFound, "no such original ticket: check original_ticket_id")
