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
	// ErrBinding: an arbitrated ticket cannot be returned.
	ErrBinding = apperr.New(apperr.FailedPrecondition,
		"the ticket was assigned by arbitration, which binds: it cannot be returned; handle it, or ask for more time")
	// ErrNotWorking: the ticket is not being handled (accepted or reopened).
	ErrNotWorking = apperr.New(apperr.FailedPrecondition, "the ticket is not being handled: accept it first")
	// ErrClockState: pause a running clock, resume a paused one.
	ErrClockState = apperr.New(apperr.FailedPrecondition,
		"the resolve clock is not in a state to change that way: pause a running clock, resume a paused one")
	// ErrDeadlinePassed: more time must be asked for before the deadline.
	ErrDeadlinePassed = apperr.New(apperr.FailedPrecondition,
		"the resolve deadline has passed: extensions must be asked for before it; resolve the ticket or report progress")
	// ErrExtensionPending: one request at a time.
	ErrExtensionPending = apperr.New(apperr.FailedPrecondition,
		"a request for more time is already waiting for the street's decision")
	// ErrPausedNoDeadline: a paused clock has no deadline to extend.
	ErrPausedNoDeadline = apperr.New(apperr.FailedPrecondition,
		"the resolve clock is paused: resume it before asking for more time")
	// ErrExtensionTooEarly: the deadline asked for must be later.
	ErrExtensionTooEarly = apperr.New(apperr.InvalidArgument,
		"requested_resolve_due must be later than the current resolve deadline")
	// ErrAssistsPending: assisting departments have not reported.
	ErrAssistsPending = apperr.New(apperr.FailedPrecondition,
		"assisting departments have not reported their part: wait for them, or resolve with missing_assists_reason")
	// ErrNotAssisting: the actor's department does not assist on the ticket.
	ErrNotAssisting = apperr.New(apperr.PermissionDenied,
		"your department does not assist on this ticket: act for one of its assisting departments")
	// ErrAssistReported: an assisting department reports once.
	ErrAssistReported = apperr.New(apperr.FailedPrecondition, "your department already reported its part")
	// ErrBadCursor: the watch cursor was not made by this service.
	ErrBadCursor = apperr.New(apperr.InvalidArgument,
		"after_cursor is not valid: pass the cursor of a change or heartbeat you received, or none")
	// ErrBadPageToken: the page token was not made by this service.
	ErrBadPageToken = apperr.New(apperr.InvalidArgument,
		"page_token is not valid: pass the next_page_token of the previous response, or none for the first page")
)

// Withdrawal's and merge's refusals.
var (
	// ErrHeldByDispatch: the ticket is in no department's inbox now (it was
	// returned, or never dispatched); dispatch decides (Withdraw, Merge).
	ErrHeldByDispatch = apperr.New(apperr.FailedPrecondition,
		"the ticket is not in a department's inbox now: call DispatchService.Withdraw or Merge "+
			"(whistlectl and the Go client do so by themselves)").WithReason(apperr.ReasonHeldByDispatch)
	// ErrInHand: a department accepted the ticket; it can no longer be taken back.
	ErrInHand = apperr.New(apperr.FailedPrecondition,
		"a department has accepted the ticket, so it can no longer be withdrawn or merged: ask the department "+
			"(it may return it if it is not theirs), or judge its result when it is resolved")
)

// Merge's refusals about the original.
var (
	// ErrOriginalNotFound: no such original in any inbox (or outside the caller's area).
	ErrOriginalNotFound = apperr.New(apperr.NotFound, "no such original ticket: check original_ticket_id")
	// ErrOriginalNotInInbox: the original waits for routing or in triage.
	ErrOriginalNotInInbox = apperr.New(apperr.FailedPrecondition,
		"the original is in no department's inbox (it waits for routing, in triage, or was returned): "+
			"merge the other way round, or once the original is dispatched")
)
