package open311

import (
	"context"
	"encoding/xml"
	"strings"
	"time"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/geo"
)

// catalog is what the gateway keeps of the active catalog.
type catalog struct {
	root    string
	matters []*whistlev1.MatterType
	byCode  map[string]*whistlev1.MatterType
	grids   map[string]*whistlev1.OrgUnit
	centres []gridCentre
	// loc is the city's time zone, which dates are written in.
	loc *time.Location
}

type gridCentre struct {
	id string
	at geo.Point
}

// catalogNow returns the active catalog, read again after CatalogTTL.
func (g *Gateway) catalogNow(ctx context.Context) (*catalog, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cached != nil && g.cfg.Now().Sub(g.cachedAt) < g.cfg.CatalogTTL {
		return g.cached, nil
	}
	resp, err := g.catalog.GetCatalog(ctx, &whistlev1.GetCatalogRequest{})
	if err != nil {
		return nil, err
	}
	c := &catalog{matters: resp.GetMatters(), byCode: map[string]*whistlev1.MatterType{}, grids: map[string]*whistlev1.OrgUnit{}}
	for _, m := range c.matters {
		c.byCode[m.GetCode()] = m
	}
	for _, u := range resp.GetOrgUnits() {
		switch u.GetLevel() {
		case whistlev1.OrgLevel_ORG_LEVEL_CITY:
			c.root = u.GetId()
		case whistlev1.OrgLevel_ORG_LEVEL_GRID:
			c.grids[u.GetId()] = u
			if ce := u.GetCentre(); ce != nil {
				c.centres = append(c.centres, gridCentre{id: u.GetId(), at: geo.Point{Lat: ce.GetLatitude(), Lng: ce.GetLongitude()}})
			}
		}
	}
	if c.loc, err = time.LoadLocation(resp.GetCalendar().GetTimeZone()); err != nil || resp.GetCalendar().GetTimeZone() == "" {
		c.loc = time.UTC
	}
	g.cached, g.cachedAt = c, g.cfg.Now()
	return c, nil
}

// MaxGridDistance is how far from the nearest grid centre a point may lie
// and still be placed in that grid; farther, the ticket has no grid (a
// person triages it).
const MaxGridDistance = 2000.0

// gridAt is the grid whose centre is nearest to p, within MaxGridDistance.
func (c *catalog) gridAt(p geo.Point) string {
	best, bestD := "", MaxGridDistance
	for _, gc := range c.centres {
		if d := geo.Distance(p, gc.at); d <= bestD {
			best, bestD = gc.id, d
		}
	}
	return best
}

// service is one matter as GET services lists it.
type service struct {
	XMLName     xml.Name `json:"-" xml:"service"`
	ServiceCode string   `json:"service_code" xml:"service_code"`
	ServiceName string   `json:"service_name" xml:"service_name"`
	Description string   `json:"description" xml:"description"`
	Metadata    bool     `json:"metadata" xml:"metadata"`
	Type        string   `json:"type" xml:"type"`
	Keywords    string   `json:"keywords" xml:"keywords"`
	Group       string   `json:"group" xml:"group"`
}

type servicesXML struct {
	XMLName  xml.Name  `xml:"services"`
	Services []service `xml:"service"`
}

// services is GET services: every matter of the active catalog. Tickets
// are made at once, so every service is "realtime".
func (g *Gateway) services(ctx context.Context, c call) (any, error) {
	cat, err := g.catalogNow(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]service, 0, len(cat.matters))
	for _, m := range cat.matters {
		out = append(out, service{ServiceCode: m.GetCode(), ServiceName: m.GetName(), Description: m.GetDescription(),
			Metadata: len(m.GetAttributes()) > 0, Type: "realtime", Keywords: strings.Join(m.GetKeywords(), ", "), Group: m.GetGroup()})
	}
	if c.format == formatXML {
		return servicesXML{Services: out}, nil
	}
	return out, nil
}

// attribute is one matter attribute as a service definition shows it.
type attribute struct {
	Variable            bool    `json:"variable" xml:"variable"`
	Code                string  `json:"code" xml:"code"`
	Datatype            string  `json:"datatype" xml:"datatype"`
	Required            bool    `json:"required" xml:"required"`
	DatatypeDescription string  `json:"datatype_description" xml:"datatype_description"`
	Order               int     `json:"order" xml:"order"`
	Description         string  `json:"description" xml:"description"`
	Values              []value `json:"values" xml:"values>value"`
}

type value struct {
	Key  string `json:"key" xml:"key"`
	Name string `json:"name" xml:"name"`
}

type definition struct {
	XMLName     xml.Name    `json:"-" xml:"service_definition"`
	ServiceCode string      `json:"service_code" xml:"service_code"`
	Attributes  []attribute `json:"attributes" xml:"attributes>attribute"`
}

// datatypes are the standard's names of the attribute types.
var datatypes = map[whistlev1.AttributeType]string{
	whistlev1.AttributeType_ATTRIBUTE_TYPE_STRING: "string", whistlev1.AttributeType_ATTRIBUTE_TYPE_NUMBER: "number",
	whistlev1.AttributeType_ATTRIBUTE_TYPE_DATETIME: "datetime", whistlev1.AttributeType_ATTRIBUTE_TYPE_TEXT: "text",
	whistlev1.AttributeType_ATTRIBUTE_TYPE_SINGLE_CHOICE: "singlevaluelist", whistlev1.AttributeType_ATTRIBUTE_TYPE_MULTI_CHOICE: "multivaluelist",
}

// serviceDefinition is GET services/{code}: the matter's attributes.
func (g *Gateway) serviceDefinition(ctx context.Context, c call) (any, error) {
	cat, err := g.catalogNow(ctx)
	if err != nil {
		return nil, err
	}
	m, ok := cat.byCode[c.id]
	if !ok {
		return nil, notFound("service_code %q is not in the catalog: GET services lists them", c.id)
	}
	def := definition{ServiceCode: m.GetCode(), Attributes: []attribute{}}
	for i, a := range m.GetAttributes() {
		at := attribute{Variable: true, Code: a.GetCode(), Datatype: datatypes[a.GetType()], Required: a.GetRequired(),
			DatatypeDescription: a.GetTypeDescription(), Order: i + 1, Description: a.GetDescription(), Values: []value{}}
		for _, v := range a.GetValues() {
			at.Values = append(at.Values, value{Key: v.GetKey(), Name: v.GetName()})
		}
		def.Attributes = append(def.Attributes, at)
	}
	return def, nil
}
