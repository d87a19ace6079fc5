package open311

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/whistle-civic/whistle/pkg/client"
	"github.com/whistle-civic/whistle/pkg/egress"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
)

// posted answers POST requests.
type posted struct {
	XMLName          xml.Name `json:"-" xml:"request"`
	ServiceRequestID string   `json:"service_request_id" xml:"service_request_id"`
	Token            string   `json:"token" xml:"token"`
	ServiceNotice    string   `json:"service_notice" xml:"service_notice"`
	AccountID        *string  `json:"account_id" xml:"account_id,omitempty"`
}

type postedXML struct {
	XMLName  xml.Name `xml:"service_requests"`
	Requests []posted `xml:"request"`
}

// postRequest is POST requests: a ticket made with the api_key's
// authority. It answers the ticket's number as service_request_id, its id
// as token, and in service_notice the number and the one-time evaluation
// code with which the resident judges the result.
func (g *Gateway) postRequest(ctx context.Context, c call) (any, error) {
	key := first(c.form, "api_key")
	if key == "" {
		return nil, forbidden("api_key is required to post a request: ask the city's administrators for one")
	}
	cat, err := g.catalogNow(ctx)
	if err != nil {
		return nil, err
	}
	req, err := g.reportOf(cat, c.form)
	if err != nil {
		return nil, err
	}
	ctx = client.WithAPIKey(ctx, key)
	if u := first(c.form, "media_url"); u != "" {
		id, err := g.fetchMedia(ctx, u)
		if err != nil {
			return nil, err
		}
		req.PhotoIds = []string{id}
	}
	t, _, err := g.cfg.Client.Report(ctx, req)
	if err != nil {
		return nil, err
	}
	notice := fmt.Sprintf("已受理，工单号 %s。", t.GetNumber())
	doc := []posted{{ServiceRequestID: t.GetNumber(), Token: t.GetId(), ServiceNotice: notice}}
	if c.format == formatXML {
		return postedXML{Requests: doc}, nil
	}
	return doc, nil
}

// phoneChars are what a reporter's phone may hold.
var phoneChars = regexp.MustCompile(`^[0-9+() -]{1,32}$`)

// reportOf reads a POSTed request into a report; what the standard's form
// allows but Whistle does not keep (email, device_id, account_id) is left.
func (g *Gateway) reportOf(cat *catalog, form map[string][]string) (*whistlev1.ReportRequest, error) {
	code := first(form, "service_code")
	if code == "" {
		return nil, badRequest("service_code is required: GET services lists them")
	}
	m, ok := cat.byCode[code]
	if !ok {
		return nil, notFound("service_code %q is not in the catalog: GET services lists them", code)
	}
	loc, err := cat.locationOf(form)
	if err != nil {
		return nil, err
	}
	facts, err := factsOf(m, form)
	if err != nil {
		return nil, err
	}
	desc := first(form, "description")
	if desc == "" {
		desc = m.GetName()
	}
	if n := len([]rune(desc)); n > 4000 {
		return nil, badRequest("description has %d characters: at most 4000", n)
	}
	name := strings.TrimSpace(first(form, "first_name") + " " + first(form, "last_name"))
	phone := first(form, "phone")
	if len([]rune(name)) > 100 {
		return nil, badRequest("first_name and last_name together have more than 100 characters")
	}
	if phone != "" && !phoneChars.MatchString(phone) {
		return nil, badRequest("phone %q: at most 32 digits, spaces and +()-", phone)
	}
	return &whistlev1.ReportRequest{
		IdempotencyKey: "open311-" + ids.New(), Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY,
		// The key's source and org unit replace these (intake decides by the key).
		Source: whistlev1.Source_SOURCE_RESIDENT, Category: code, Title: m.GetName(), Description: desc, Location: loc,
		Reporter: &whistlev1.Reporter{OrgUnitId: cat.root, Name: name, Phone: phone}, Facts: facts,
	}, nil
}

// locationOf reads where: lat and long (placed in the grid whose centre is
// nearest), address_id (a grid's id), address_string; at least one.
func (cat *catalog) locationOf(form map[string][]string) (*whistlev1.Location, error) {
	loc := &whistlev1.Location{Address: first(form, "address_string")}
	if len([]rune(loc.Address)) > 500 {
		return nil, badRequest("address_string has more than 500 characters")
	}
	lat, lng := first(form, "lat"), first(form, "long")
	if (lat == "") != (lng == "") {
		return nil, badRequest("send lat and long together")
	}
	if lat != "" {
		la, err1 := strconv.ParseFloat(lat, 64)
		lo, err2 := strconv.ParseFloat(lng, 64)
		if err1 != nil || err2 != nil || la < -90 || la > 90 || lo < -180 || lo > 180 {
			return nil, badRequest("lat %q and long %q must be WGS-84 degrees: lat from -90 to 90, long from -180 to 180", lat, lng)
		}
		loc.Coordinates = &whistlev1.Coordinates{Latitude: la, Longitude: lo}
		loc.GridId = cat.gridAt(pointOf(la, lo))
	}
	if id := first(form, "address_id"); id != "" {
		if _, ok := cat.grids[id]; !ok {
			return nil, badRequest("address_id %q is not a grid of the city: an address_id is a grid's id, e.g. from GET requests", id)
		}
		loc.GridId = id
	}
	if loc.GetCoordinates() == nil && loc.GetGridId() == "" && loc.GetAddress() == "" {
		return nil, badRequest("where is it? send lat and long, address_string or address_id")
	}
	return loc, nil
}

// factsOf reads the attribute[code] answers of a matter: required ones
// present, choices among the values, numbers and dates as they must be.
// A multivaluelist's answers (attribute[code][]) are joined by commas.
func factsOf(m *whistlev1.MatterType, form map[string][]string) ([]*whistlev1.Fact, error) {
	known := map[string]bool{}
	var facts []*whistlev1.Fact
	for _, a := range m.GetAttributes() {
		known[a.GetCode()] = true
		vals := append(slices.Clone(form["attribute["+a.GetCode()+"]"]), form["attribute["+a.GetCode()+"][]"]...)
		if len(vals) == 0 {
			if a.GetRequired() {
				return nil, badRequest("attribute[%s] is required for %s: %s", a.GetCode(), m.GetCode(), a.GetDescription())
			}
			continue
		}
		if err := checkAnswer(a, vals); err != nil {
			return nil, err
		}
		facts = append(facts, &whistlev1.Fact{Code: a.GetCode(), Value: strings.Join(vals, ",")})
	}
	for k := range form {
		if code, ok := strings.CutPrefix(k, "attribute["); ok {
			code = strings.TrimSuffix(strings.TrimSuffix(code, "[]"), "]")
			if !known[code] {
				return nil, badRequest("attribute[%s] is not an attribute of %s: GET services/%s lists them", code, m.GetCode(), m.GetCode())
			}
		}
	}
	return facts, nil
}

// checkAnswer checks the values given for an attribute.
func checkAnswer(a *whistlev1.MatterAttribute, vals []string) error {
	keys := map[string]bool{}
	for _, v := range a.GetValues() {
		keys[v.GetKey()] = true
	}
	if len(vals) > 1 && a.GetType() != whistlev1.AttributeType_ATTRIBUTE_TYPE_MULTI_CHOICE {
		return badRequest("attribute[%s] takes one value", a.GetCode())
	}
	for _, v := range vals {
		if len([]rune(v)) > 500 {
			return badRequest("attribute[%s] has more than 500 characters", a.GetCode())
		}
		switch a.GetType() {
		case whistlev1.AttributeType_ATTRIBUTE_TYPE_NUMBER:
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				return badRequest("attribute[%s] %q is not a number", a.GetCode(), v)
			}
		case whistlev1.AttributeType_ATTRIBUTE_TYPE_DATETIME:
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				return badRequest("attribute[%s] %q is not a W3C date-time with its zone", a.GetCode(), v)
			}
		case whistlev1.AttributeType_ATTRIBUTE_TYPE_SINGLE_CHOICE, whistlev1.AttributeType_ATTRIBUTE_TYPE_MULTI_CHOICE:
			if !keys[v] {
				return badRequest("attribute[%s] %q is not one of its values: GET the service definition for the keys", a.GetCode(), v)
			}
		}
	}
	return nil
}

// fetchMedia fetches a media_url (never from a private address) and uploads
// it with the request's key; intake checks it as any upload.
func (g *Gateway) fetchMedia(ctx context.Context, raw string) (string, error) {
	u, err := egress.CheckURL(raw)
	if err != nil {
		return "", badRequest("media_url %q cannot be fetched: %v", raw, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", badRequest("media_url %q cannot be fetched: %v", raw, err)
	}
	resp, err := g.cfg.Media.Do(hreq)
	if err != nil {
		return "", badRequest("media_url %q could not be fetched (%v): give a public http(s) URL of the photo", raw, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", badRequest("media_url %q answered %s: give a URL that serves the photo", raw, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, g.cfg.MaxMediaBytes+1))
	if err != nil {
		return "", badRequest("media_url %q could not be read: %v", raw, err)
	}
	if int64(len(data)) > g.cfg.MaxMediaBytes {
		return "", badRequest("media_url %q is larger than %d bytes", raw, g.cfg.MaxMediaBytes)
	}
	name := path.Base(u.Path)
	if name == "." || name == "/" || name == "" {
		name = "photo"
	}
	m, err := g.cfg.Client.UploadMedia(ctx, name, strings.NewReader(string(data)),
		&whistlev1.Actor{Id: "open311", OrgUnitId: "open311", DisplayName: "Open311"})
	if err != nil {
		return "", err
	}
	return m.GetId(), nil
}
