package monitoring

import "github.com/whistle-civic/whistle/pkg/apperr"

// The monitoring service's errors; the API edge maps their kinds to gRPC codes.
var (
	// ErrNotFound: no event about the ticket has been projected.
	ErrNotFound = apperr.New(apperr.NotFound,
		"no events about this ticket: check the id; a ticket just reported appears within moments")
)

// Errors of the figures.
var (
	// ErrUnknownFigure: rankings rank by one of the named rates.
	ErrUnknownFigure = apperr.New(apperr.InvalidArgument, "unknown figure")
	// ErrBadPeriod: a period must name its days.
	ErrBadPeriod = apperr.New(apperr.InvalidArgument,
		"period is incomplete: a day, week or month needs date (YYYY-MM-DD); a custom period from_date and to_date, from before to")
	// ErrUnknownUnit: no ticket has been counted in the org unit.
	ErrUnknownUnit = apperr.New(apperr.NotFound,
		"no ticket has been counted in this org unit: check the id (whistlectl catalog show lists the units)")
	// ErrNotADistrict: top problems are a district's.
	ErrNotADistrict = apperr.New(apperr.InvalidArgument, "top problems are listed per district: name a district")
	// ErrWithinDepartments: departments are not placed under areas.
	ErrWithinDepartments = apperr.New(apperr.InvalidArgument,
		"within applies to areas (districts, streets, communities), not to departments: leave it empty")
	// ErrBadPageToken: the page token was not made by this service.
	ErrBadPageToken = apperr.New(apperr.InvalidArgument,
		"page_token is not valid: pass the next_page_token of the previous response, or none for the first page")
)

// Errors of the live feed and the rebuild.
var (
	// ErrWatchBehind: a watcher fell too far behind and was dropped.
	ErrWatchBehind = apperr.New(apperr.ResourceExhausted,
		"watch fell more than 1024 events behind and was dropped: read faster, filter by event type, or watch again")
	// ErrRebuilding: one rebuild at a time.
	ErrRebuilding = apperr.New(apperr.FailedPrecondition,
		"a rebuild of the read models is already running: wait for it to finish (the service log reports it)")
)

// Errors of the call-backs.
var (
	// ErrNotDrawn: only tickets drawn for a call-back at their close are called back.
	ErrNotDrawn = apperr.New(apperr.FailedPrecondition,
		"this ticket was not drawn for a call-back: record call-backs of the tickets ListCallBacks lists")
	// ErrCalledBack: a ticket is called back once.
	ErrCalledBack = apperr.New(apperr.AlreadyExists,
		"this ticket's call-back is recorded already: ListCallBacks shows its outcome")
)
