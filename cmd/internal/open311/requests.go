package open311

import (
	"context"
	"encoding/xml"
	"time"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// request is a service request as GET requests shows it: a ticket, without
// any personal data.
type request struct {
	XMLName           xml.Name `json:"-" xml:"request"`
	ServiceRequestID  string   `json:"service_request_id" xml:"service_request_id"`
	Status            string   `json:"status" xml:"status"`
	StatusNotes       string   `json:"status_notes" xml:"status_notes"`
	ServiceName       string   `json:"service_name" xml:"service_name"`
	ServiceCode       string   `json:"service_code" xml:"service_code"`
	Description       string   `json:"description" xml:"description"`
	AgencyResponsible string   `json:"agency_responsible" xml:"agency_responsible"`
	ServiceNotice     string   `json:"service_notice" xml:"service_notice"`
	RequestedDatetime string   `json:"requested_datetime" xml:"requested_datetime"`
	UpdatedDatetime   string   `json:"updated_datetime" xml:"updated_datetime"`
	ExpectedDatetime  string   `json:"expected_datetime" xml:"expected_datetime"`
	Address           string   `json:"address" xml:"address"`
	AddressID         string   `json:"address_id" xml:"address_id"`
	Zipcode           string   `json:"zipcode" xml:"zipcode"`
	Lat               *float64 `json:"lat" xml:"lat,omitempty"`
	Long              *float64 `json:"long" xml:"long,omitempty"`
	MediaURL          string   `json:"media_url" xml:"media_url"`
}

type requestsXML struct {
	XMLName  xml.Name  `xml:"service_requests"`
	Requests []request `xml:"request"`
}

// requests wraps a list of requests as the format has it.
func requests(f format, rs []request) any {
	if f == formatXML {
		return requestsXML{Requests: rs}
	}
	return rs
}

// w3c writes a time as the standard's dates are: ISO 8601 with its zone.
func w3c(t time.Time, loc *time.Location) string { return t.In(loc).Format(time.RFC3339) }

// toRequest shows a ticket as a service request. Its id is the ticket's
// number, which people read and GET requests/{id} takes.
func (cat *catalog) toRequest(t *whistlev1.Ticket) request {
	st := states[t.GetStatus()]
	r := request{ServiceRequestID: t.GetNumber(), Status: openness(t.GetStatus()), StatusNotes: st.notes,
		ServiceName: t.GetCategory(), ServiceCode: t.GetCategory(), Description: t.GetDescription(),
		RequestedDatetime: w3c(t.GetReportedAt().AsTime(), cat.loc), UpdatedDatetime: w3c(t.GetUpdatedAt().AsTime(), cat.loc),
		Address: t.GetLocation().GetAddress(), AddressID: t.GetLocation().GetGridId()}
	if m, ok := cat.byCode[t.GetCategory()]; ok {
		r.ServiceName = m.GetName()
	}
	if c := t.GetLocation().GetCoordinates(); c != nil {
		lat, lng := c.GetLatitude(), c.GetLongitude()
		r.Lat, r.Long = &lat, &lng
	}
	return r
}

// getRequest is GET requests/{id}: one ticket, by number or id.
func (g *Gateway) getRequest(ctx context.Context, c call) (any, error) {
	cat, err := g.catalogNow(ctx)
	if err != nil {
		return nil, err
	}
	t, err := g.cfg.Client.GetTicket(ctx, c.id)
	if err != nil || t.GetSynthetic() {
		return nil, notFoundTicket(c.id, err)
	}
	return requests(c.format, []request{cat.toRequest(t)}), nil
}

// notFoundTicket turns "no such ticket" into the standard's 404.
func notFoundTicket(id string, err error) error {
	if err == nil || asError(err).Code == 404 || asError(err).Code == 400 {
		return notFound("no service request %q: check the service_request_id", id)
	}
	return err
}

// tokenDoc answers GET tokens/{token}.
type tokenDoc struct {
	XMLName          xml.Name `json:"-" xml:"request"`
	ServiceRequestID string   `json:"service_request_id" xml:"service_request_id"`
	Token            string   `json:"token" xml:"token"`
}

type tokensXML struct {
	XMLName  xml.Name   `xml:"service_requests"`
	Requests []tokenDoc `xml:"request"`
}

// token is GET tokens/{token}. Tickets are made at once, so the token a
// POST answers (the ticket's id) always has its service_request_id.
func (g *Gateway) token(ctx context.Context, c call) (any, error) {
	t, err := g.cfg.Client.GetTicket(ctx, c.id)
	if err != nil || t.GetSynthetic() {
		return nil, notFoundTicket(c.id, err)
	}
	doc := []tokenDoc{{ServiceRequestID: t.GetNumber(), Token: t.GetId()}}
	if c.format == formatXML {
		return tokensXML{Requests: doc}, nil
	}
	return doc, nil
}
