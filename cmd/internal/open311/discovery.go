package open311

import (
	"context"
	"encoding/xml"

	"github.com/whistle-civic/whistle/pkg/geo"
)

// discoveryDoc is the service discovery document (wiki.open311.org/Service_Discovery).
type discoveryDoc struct {
	XMLName    xml.Name   `json:"-" xml:"discovery"`
	Changeset  string     `json:"changeset" xml:"changeset"`
	Contact    string     `json:"contact" xml:"contact"`
	KeyService string     `json:"key_service" xml:"key_service"`
	Endpoints  []endpoint `json:"endpoints" xml:"endpoints>endpoint"`
}

type endpoint struct {
	Specification string   `json:"specification" xml:"specification"`
	URL           string   `json:"url" xml:"url"`
	Changeset     string   `json:"changeset" xml:"changeset"`
	Type          string   `json:"type" xml:"type"`
	Formats       []string `json:"formats" xml:"formats>format"`
}

// Changeset is when the gateway's interface last changed.
const Changeset = "2026-12-03T00:00:00Z"

// discovery is GET /open311/discovery: the one GeoReport v2 endpoint.
func (g *Gateway) discovery(context.Context, call) (any, error) {
	return discoveryDoc{Changeset: Changeset, Contact: g.cfg.Contact, KeyService: g.cfg.KeyService,
		Endpoints: []endpoint{{Specification: "http://wiki.open311.org/GeoReport_v2", URL: g.cfg.BaseURL + Prefix + "/",
			Changeset: Changeset, Type: "production", Formats: []string{"text/xml", "application/json"}}}}, nil
}

func pointOf(lat, lng float64) geo.Point { return geo.Point{Lat: lat, Lng: lng} }
