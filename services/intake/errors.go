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

// The media errors.
var (
	// ErrNoMediaStore: the deployment keeps no files.
	ErrNoMediaStore = apperr.New(apperr.Unavailable,
		"this deployment keeps no photos: its operators must configure an object store (WHISTLE_MEDIA_DIR or WHISTLE_S3_ENDPOINT)")
	// ErrUploadMismatch: the bytes received are not what the header said.
	ErrUploadMismatch = apperr.New(apperr.InvalidArgument,
		"the bytes received do not match the header's size_bytes and sha256: nothing was kept; send the file again")
	// ErrUploadHeaderFirst: an upload starts with its header.
	ErrUploadHeaderFirst = apperr.New(apperr.InvalidArgument, "an upload starts with its header (name, size_bytes, sha256, actor), then the chunks")
	// ErrUploadHeaderTwice: an upload has one header.
	ErrUploadHeaderTwice = apperr.New(apperr.InvalidArgument, "an upload has one header, first: send the bytes as chunks after it")
	// ErrMediaNotFound: no such file (or not the caller's to see).
	ErrMediaNotFound = apperr.New(apperr.NotFound, "no such photo or video: check the media id (ListMedia lists a ticket's)")
	// ErrUnknownPhoto: a report names a file its unit did not upload, or one attached already.
	ErrUnknownPhoto = apperr.New(apperr.InvalidArgument,
		"a photo_id names no file your unit uploaded and has not attached yet: upload it with UploadMedia, then report")
)

// The import errors.
var (
	// ErrImportTooLarge: one import takes up to MaxImportTickets tickets.
	ErrImportTooLarge = apperr.New(apperr.ResourceExhausted,
		"an import takes up to 200000 tickets: nothing was imported; split the file and import the parts one after another")
	// ErrBadImport: some tickets of an import have problems; nothing was imported.
	ErrBadImport = apperr.New(apperr.InvalidArgument,
		"some tickets cannot be imported, so nothing was: fix the tickets named, or import the good ones alone with skip_bad")
)

// The webhook errors.
var (
	// ErrWebhookNotFound: no subscription has that id.
	ErrWebhookNotFound = apperr.New(apperr.NotFound, "no webhook has that id: ListWebhooks lists them")
	// ErrTooManyWebhooks: MaxWebhooks subscriptions exist.
	ErrTooManyWebhooks = apperr.New(apperr.ResourceExhausted,
		"1000 webhooks exist, the most there may be: remove unused ones (RemoveWebhook), or subscribe one endpoint to more event types")
	// ErrBadWebhook: a subscription's URL, event types, org units or secret
	// cannot be used; returned wrapped, saying which and why.
	ErrBadWebhook = apperr.New(apperr.InvalidArgument, "the webhook cannot be added")
)

// The Open311 key errors.
var (
	// ErrAPIKeyNotFound: no key has that id (or secret).
	ErrAPIKeyNotFound = apperr.New(apperr.NotFound, "no Open311 key has that id: ListOpen311Keys lists them")
	// ErrTooManyKeys: MaxAPIKeys keys exist.
	ErrTooManyKeys = apperr.New(apperr.ResourceExhausted,
		"1000 Open311 keys exist, the most there may be: give one system one key, and revoked keys are kept for the record")
	// ErrBadAPIKey: a key cannot be issued as asked; returned wrapped, saying why.
	ErrBadAPIKey = apperr.New(apperr.InvalidArgument, "the Open311 key cannot be issued")
)
