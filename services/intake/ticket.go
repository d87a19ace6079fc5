package intake

import (
	"time"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Kind is a whistle's kind; values equal whistle.v1.WhistleKind.
type Kind int32

// The whistle kinds.
const (
	KindDaily     Kind = 1
	KindTough     Kind = 2
	KindEmergency Kind = 3
)

// Source is the channel a whistle came in through; values equal whistle.v1.Source.
type Source int32

// SourceProactive is a ticket raised by monitoring from a hot spot.
const SourceProactive Source = 7

// Location is where the problem is.
type Location struct {
	// GridID is the grid's org unit id; empty when unknown.
	GridID string
	// HasCoordinates says whether Latitude and Longitude are set.
	HasCoordinates bool
	// Latitude and Longitude in WGS-84 degrees.
	Latitude, Longitude float64
	// Address in words.
	Address string
}

// Reporter is who blew the whistle.
type Reporter struct {
	// OrgUnitID is the reporting org unit (grid, community, hotline, system).
	OrgUnitID string
	// Name and Phone are personal data; optional.
	Name, Phone string
}

// Ticket is a whistle as reported.
type Ticket struct {
	ID, Number     string
	Kind           Kind
	Source         Source
	Category       string
	Title          string
	Description    string
	Location       Location
	Reporter       Reporter
	Synthetic      bool
	ReportedAt     time.Time
	IdempotencyKey string
	// Fingerprint identifies the report's content, to tell a retry from a
	// different report that reuses an idempotency key.
	Fingerprint string
	// TraceParent is the W3C traceparent of the ticket's own trace.
	TraceParent string
	// RelatedTicketIDs are the tickets a proactive ticket was raised from.
	RelatedTicketIDs []string
	// PhotoIDs are the files reported with it (MediaFile ids).
	PhotoIDs []string
	// Departments are those it was assigned to so far (lead or assisting),
	// as intake heard: they may see its files.
	Departments []string
	// Facts answer the matter's attributes, as reported.
	Facts []Fact
	// Status is the ticket's status as intake last heard, and UpdatedAt
	// when it heard of that change (ReportedAt before any).
	Status    ticket.Status
	UpdatedAt time.Time
	// Repeats are the closed tickets a new report repeats (see Likeness),
	// found when it is made; not stored with it.
	Repeats []string
}

// repeat is a closed ticket a report repeated, as marked; By is the report
// (read back for imported ones).
type repeat struct {
	TicketID, Number, TraceParent string
	Version                       int64
	ClosedAt                      time.Time
	By                            Ticket
}

// Fact is the answer to one of a matter's attributes (floor = "3").
type Fact struct {
	Code  string `json:"code"`
	Value string `json:"value"`
}
