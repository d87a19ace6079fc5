package open311_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/client"
	"github.com/whistle-civic/whistle/pkg/egress"
	"github.com/whistle-civic/whistle/pkg/eventually"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"

	"github.com/whistle-civic/whistle/cmd/internal/open311"
	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

// env is a running stack with the gateway in front of it, as `whistle dev`
// runs them, and keys to post with.
type env struct {
	r        *stacktest.Running
	url      string // the gateway's base URL
	key      string // a key of the city, residents' source
	keyID    string
	photoURL string // a photo on loopback, which the gateway is allowed to fetch
}

// start runs the stack, the gateway (reading as the city's monitor, allowed
// to fetch from loopback) and a photo server, and issues a key.
func start(t *testing.T) *env {
	t.Helper()
	r := stacktest.Start(t)
	c, err := client.Dial(t.Context(), r.Addr, client.WithToken(r.Token(auth.RoleMonitor, r.City)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	allow := egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	srv := httptest.NewUnstartedServer(nil)
	gw, err := open311.New(open311.Config{Client: c, BaseURL: "http://" + srv.Listener.Addr().String(), Media: allow.Client(5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = gw.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	photos := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		_, _ = w.Write(photo(t))
	}))
	t.Cleanup(photos.Close)
	e := &env{r: r, url: srv.URL, photoURL: photos.URL + "/leak.jpg"}
	e.keyID, e.key = e.addKey(t, r.City, 0)
	return e
}

// addKey issues a key for a unit as the city's administrator.
func (e *env) addKey(t *testing.T, unit string, rate int32) (id, secret string) {
	t.Helper()
	resp, err := e.r.As(auth.RoleAdmin, e.r.City).Open311.AddOpen311Key(t.Context(), &whistlev1.AddOpen311KeyRequest{
		Name: "市民随手拍 " + unit, OrgUnitId: unit, RatePerMinute: rate, Actor: &whistlev1.Actor{Id: "admin-1", OrgUnitId: e.r.City}})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetKey().GetId(), resp.GetSecret()
}

func photo(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := range 64 {
		for y := range 48 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 90, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// get fetches a path and returns the status and body.
func (e *env) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(e.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// post posts a form and returns the status and body.
func (e *env) post(t *testing.T, path string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(e.url+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// leak is a water leak report in the first grid of 东街社区, a little off its centre.
func (e *env) leak(key string) url.Values {
	return url.Values{"api_key": {key}, "service_code": {"water_leak"}, "lat": {"40.8470"}, "long": {"111.6660"},
		"address_string": {"东街 12 号"}, "description": {"三楼水管爆了 <b>快来</b>"}, "attribute[floor]": {"3"},
		"attribute[affects_neighbours]": {"yes"}, "first_name": {"张"}, "last_name": {"三"}, "phone": {"13800000000"}}
}

type postedJSON []struct {
	ServiceRequestID string `json:"service_request_id"`
	Token            string `json:"token"`
	ServiceNotice    string `json:"service_notice"`
}

// report posts the leak and returns what the gateway answered.
func (e *env) report(t *testing.T, form url.Values) postedJSON {
	t.Helper()
	code, body := e.post(t, "/open311/v2/requests.json", form)
	if code != http.StatusOK {
		t.Fatalf("POST requests.json = %d %s", code, body)
	}
	var got postedJSON
	if err := json.Unmarshal([]byte(body), &got); err != nil || len(got) != 1 || got[0].ServiceRequestID == "" || got[0].Token == "" {
		t.Fatalf("POST requests.json answered %s (%v)", body, err)
	}
	return got
}

func TestDiscoveryAndServices(t *testing.T) {
	t.Parallel()
	e := start(t)
	tests := []struct {
		path string
		want []string
	}{
		{"/open311/discovery.json", []string{`"specification":"http://wiki.open311.org/GeoReport_v2"`, `"url":"` + e.url + `/open311/v2/"`,
			`"formats":["text/xml","application/json"]`}},
		{"/open311/discovery.xml", []string{"<discovery>", "<endpoint><specification>http://wiki.open311.org/GeoReport_v2</specification>",
			"<format>text/xml</format>"}},
		{"/open311/v2/services.json", []string{`{"service_code":"water_leak","service_name":"供水管道漏水","description":"供水管道`,
			`"metadata":true,"type":"realtime","keywords":"`, `"group":"供水与排水"`, `"service_code":"road_damage"`}},
		{"/open311/v2/services.xml", []string{`<?xml version="1.0" encoding="UTF-8"?>`, "<services><service><service_code>",
			"<service_code>water_leak</service_code><service_name>供水管道漏水</service_name>", "<metadata>true</metadata><type>realtime</type>"}},
		{"/open311/v2/services/water_leak.json", []string{`"service_code":"water_leak","attributes":[`,
			`{"variable":true,"code":"floor","datatype":"number","required":true,"datatype_description":"楼层数字，室外或地面填 0","order":1,"description":"漏水在几楼？","values":[]}`,
			`"code":"affects_neighbours","datatype":"singlevaluelist","required":false`, `"values":[{"key":"yes","name":"有"},{"key":"no","name":"没有"}]`}},
		{"/open311/v2/services/water_leak.xml", []string{"<service_definition><service_code>water_leak</service_code><attributes><attribute><variable>true</variable><code>floor</code><datatype>number</datatype><required>true</required>",
			"<values><value><key>yes</key><name>有</name></value><value><key>no</key><name>没有</name></value></values>"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			code, body := e.get(t, tt.path)
			if code != http.StatusOK {
				t.Fatalf("GET %s = %d %s", tt.path, code, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s lacks %s:\n%s", tt.path, w, body)
				}
			}
		})
	}
}

// TestPostAndReadBack posts the spec's kind of request in both formats and
// reads it back every way the standard offers.
func TestPostAndReadBack(t *testing.T) {
	t.Parallel()
	e := start(t)
	form := e.leak(e.key)
	form.Set("media_url", e.photoURL)
	got := e.report(t, form)
	number, id := got[0].ServiceRequestID, got[0].Token
	if !strings.HasPrefix(number, "HH-") || !strings.Contains(got[0].ServiceNotice, number) {
		t.Errorf("posted %+v: want a ticket number and a notice naming it", got[0])
	}

	// The ticket is the key's: its unit and source, the grid found from lat/long, the facts and the photo.
	tk, err := e.r.As(auth.RoleAdmin, e.r.City).Intake.GetTicket(t.Context(), &whistlev1.GetTicketRequest{Ticket: id})
	if err != nil {
		t.Fatal(err)
	}
	tt := tk.GetTicket()
	if tt.GetReporter().GetOrgUnitId() != e.r.City || tt.GetSource() != whistlev1.Source_SOURCE_RESIDENT ||
		tt.GetLocation().GetGridId() != "xc-hd-dj-g01" || len(tt.GetPhotoIds()) != 1 || !strings.HasPrefix(tt.GetReporter().GetName(), "张") {
		t.Errorf("ticket %v: want reported for %s by a resident, in xc-hd-dj-g01, with a photo, by 张 三 (masked)", tt, e.r.City)
	}
	if f := tt.GetFacts(); len(f) != 2 || f[0].GetCode() != "floor" || f[0].GetValue() != "3" || f[1].GetValue() != "yes" {
		t.Errorf("facts %v: want floor=3, affects_neighbours=yes", f)
	}

	for _, path := range []string{"/open311/v2/requests/" + number + ".json", "/open311/v2/requests.json?service_request_id=" + number} {
		code, body := e.get(t, path)
		var rs []map[string]any
		if err := json.Unmarshal([]byte(body), &rs); code != 200 || err != nil || len(rs) != 1 {
			t.Fatalf("GET %s = %d %s", path, code, body)
		}
		r := rs[0]
		if r["service_request_id"] != number || r["status"] != "open" || r["service_code"] != "water_leak" || r["service_name"] != "供水管道漏水" ||
			r["description"] != "三楼水管爆了 <b>快来</b>" || r["address"] != "东街 12 号" || r["address_id"] != "xc-hd-dj-g01" ||
			r["lat"] != 40.847 || r["long"] != 111.666 {
			t.Errorf("GET %s = %v", path, r)
		}
		if strings.Contains(body, "13800000000") || strings.Contains(body, "张") {
			t.Errorf("GET %s shows the reporter's personal data: %s", path, body)
		}
		if _, err := time.Parse(time.RFC3339, r["requested_datetime"].(string)); err != nil || !strings.HasSuffix(r["requested_datetime"].(string), "+08:00") {
			t.Errorf("requested_datetime %v: want W3C with the city's zone", r["requested_datetime"])
		}
	}
	code, body := e.get(t, "/open311/v2/requests/"+number+".xml")
	if code != 200 || !strings.Contains(body, "<service_requests><request><service_request_id>"+number+"</service_request_id><status>open</status>") ||
		!strings.Contains(body, "<description>三楼水管爆了 &lt;b&gt;快来&lt;/b&gt;</description>") {
		t.Errorf("GET requests/%s.xml = %d %s", number, code, body)
	}
	var xr struct {
		Requests []struct {
			ID string `xml:"service_request_id"`
		} `xml:"request"`
	}
	if err := xml.Unmarshal([]byte(body), &xr); err != nil || len(xr.Requests) != 1 || xr.Requests[0].ID != number {
		t.Errorf("requests/%s.xml does not parse as one request: %v %v", number, err, xr)
	}
	code, body = e.get(t, "/open311/v2/tokens/"+id+".json")
	if code != 200 || body != fmt.Sprintf(`[{"service_request_id":%q,"token":%q}]`, number, id) {
		t.Errorf("GET tokens/%s.json = %d %s", id, code, body)
	}
	code, body = e.get(t, "/open311/v2/tokens/"+id+".xml")
	if code != 200 || !strings.Contains(body, "<service_requests><request><service_request_id>"+number+"</service_request_id><token>"+id+"</token>") {
		t.Errorf("GET tokens/%s.xml = %d %s", id, code, body)
	}

	// Lists by code, status and period; the updates follow the ticket as dispatch routes it.
	code, body = e.get(t, "/open311/v2/requests.json?service_code=water_leak&status=open&start_date="+url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339)))
	if code != 200 || !strings.Contains(body, number) {
		t.Errorf("GET requests.json by code, status and start = %d %s", code, body)
	}
	for _, q := range []string{"status=closed", "service_code=road_damage", "page=2", "end_date=" + url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339))} {
		if code, body := e.get(t, "/open311/v2/requests.json?"+q); code != 200 || strings.Contains(body, number) {
			t.Errorf("GET requests.json?%s = %d %s: want the ticket left out", q, code, body)
		}
	}
	eventually.Seen(t, "the dispatch in the updates", func() (bool, string) {
		_, body := e.get(t, "/open311/v2/servicerequestupdates.json")
		return strings.Contains(body, `"service_request_id":"`+number+`","status":"investigating"`), body
	})
	code, body = e.get(t, "/open311/v2/servicerequestupdates.xml")
	if code != 200 || !strings.Contains(body, "<service_request_updates><request_update><update_id>") || !strings.Contains(body, number) {
		t.Errorf("GET servicerequestupdates.xml = %d %s", code, body)
	}
}

// TestErrors: every error path answers as the standard says, in both
// formats, and posts nothing.
func TestErrors(t *testing.T) {
	t.Parallel()
	e := start(t)
	revokedID, revoked := e.addKey(t, e.r.City, 0)
	if _, err := e.r.As(auth.RoleAdmin, e.r.City).Open311.RevokeOpen311Key(t.Context(), &whistlev1.RevokeOpen311KeyRequest{
		Id: revokedID, Actor: &whistlev1.Actor{Id: "admin-1", OrgUnitId: e.r.City}}); err != nil {
		t.Fatal(err)
	}
	_, community := e.addKey(t, "xc-hd-wy", 0) // 望月社区: the leak lies in 东街社区
	with := func(change func(url.Values)) url.Values {
		f := e.leak(e.key)
		change(f)
		return f
	}
	tests := []struct {
		name   string
		method string
		path   string
		form   url.Values
		code   int
		want   string
	}{
		{"no api_key", "POST", "requests", with(func(f url.Values) { f.Del("api_key") }), 403, "api_key is required"},
		{"empty api_key is absent", "POST", "requests", with(func(f url.Values) { f.Set("api_key", "") }), 403, "api_key is required"},
		{"unknown api_key", "POST", "requests", with(func(f url.Values) { f.Set("api_key", "o311_nope") }), 403, "unknown API key"},
		{"malformed api_key", "POST", "requests", with(func(f url.Values) { f.Set("api_key", "letmein") }), 403, "starts with"},
		{"revoked api_key", "POST", "requests", with(func(f url.Values) { f.Set("api_key", revoked) }), 403, "was revoked"},
		{"outside the key's area", "POST", "requests", with(func(f url.Values) { f.Set("api_key", community) }), 403, ""},
		{"no service_code", "POST", "requests", with(func(f url.Values) { f.Del("service_code") }), 400, "service_code is required"},
		{"unknown service_code", "POST", "requests", with(func(f url.Values) { f.Set("service_code", "dragons") }), 404, "not in the catalog"},
		{"other jurisdiction", "POST", "requests", with(func(f url.Values) { f.Set("jurisdiction_id", "nyc") }), 404, "jurisdiction_id"},
		{"nowhere", "POST", "requests", with(func(f url.Values) {
			f.Del("lat")
			f.Del("long")
			f.Del("address_string")
		}), 400, "where is it"},
		{"lat without long", "POST", "requests", with(func(f url.Values) { f.Del("long") }), 400, "lat and long together"},
		{"lat out of range", "POST", "requests", with(func(f url.Values) { f.Set("lat", "91") }), 400, "WGS-84"},
		{"unknown address_id", "POST", "requests", with(func(f url.Values) { f.Set("address_id", "atlantis") }), 400, "not a grid"},
		{"required attribute missing", "POST", "requests", with(func(f url.Values) { f.Del("attribute[floor]") }), 400, "attribute[floor] is required"},
		{"not a number", "POST", "requests", with(func(f url.Values) { f.Set("attribute[floor]", "three") }), 400, "not a number"},
		{"not a choice", "POST", "requests", with(func(f url.Values) { f.Set("attribute[affects_neighbours]", "maybe") }), 400, "not one of its values"},
		{"unknown attribute", "POST", "requests", with(func(f url.Values) { f.Set("attribute[colour]", "blue") }), 400, "not an attribute"},
		{"bad phone", "POST", "requests", with(func(f url.Values) { f.Set("phone", "call me") }), 400, "phone"},
		{"description too long", "POST", "requests", with(func(f url.Values) { f.Set("description", strings.Repeat("水", 4001)) }), 400, "at most 4000"},
		{"media on a private address", "POST", "requests", with(func(f url.Values) { f.Set("media_url", "http://10.0.0.1/x.jpg") }), 400, "media_url"},
		{"media not a URL", "POST", "requests", with(func(f url.Values) { f.Set("media_url", "file:///etc/passwd") }), 400, "media_url"},
		{"unknown service definition", "GET", "services/dragons", nil, 404, "not in the catalog"},
		{"unknown request", "GET", "requests/HH-20000101-99999", nil, 404, "no service request"},
		{"unknown token", "GET", "tokens/0193a1b2-0000-7000-8000-000000000000", nil, 404, "no service request"},
		{"period over 90 days", "GET", "requests", url.Values{"start_date": {"2026-01-01T00:00:00Z"}, "end_date": {"2026-06-01T00:00:00Z"}}, 400, "90 days"},
		{"date without zone", "GET", "requests", url.Values{"start_date": {"2026-01-01 00:00"}}, 400, "W3C"},
		{"end before start", "GET", "servicerequestupdates", url.Values{"start_date": {"2026-02-01T00:00:00Z"}, "end_date": {"2026-01-01T00:00:00Z"}}, 400, "before end_date"},
		{"bad status", "GET", "requests", url.Values{"status": {"pending"}}, 400, "neither open nor closed"},
		{"several codes", "GET", "requests", url.Values{"service_code": {"water_leak,road_damage"}}, 400, "one at a time"},
		{"page_size too big", "GET", "requests", url.Values{"page_size": {"501"}}, 400, "page_size"},
		{"unknown endpoint", "GET", "dragons", nil, 404, "no such endpoint"},
	}
	for _, tt := range tests {
		for _, f := range []string{"json", "xml"} {
			t.Run(tt.name+"."+f, func(t *testing.T) {
				t.Parallel()
				var code int
				var body string
				if tt.method == "POST" {
					code, body = e.post(t, "/open311/v2/"+tt.path+"."+f, tt.form)
				} else {
					code, body = e.get(t, "/open311/v2/"+tt.path+"."+f+"?"+tt.form.Encode())
				}
				if code != tt.code || !strings.Contains(body, tt.want) {
					t.Fatalf("%s %s.%s = %d %s; want %d with %q", tt.method, tt.path, f, code, body, tt.code, tt.want)
				}
				if f == "json" {
					var errs []struct {
						Code        int    `json:"code"`
						Description string `json:"description"`
					}
					if err := json.Unmarshal([]byte(body), &errs); err != nil || len(errs) != 1 || errs[0].Code != tt.code || errs[0].Description == "" {
						t.Errorf("errors %s: want [{code, description}] (%v)", body, err)
					}
				} else if !strings.HasPrefix(body, xml.Header+fmt.Sprintf("<errors><error><code>%d</code><description>", tt.code)) {
					t.Errorf("errors %s: want <errors><error><code>…", body)
				}
			})
		}
	}
	t.Run("nothing was posted", func(t *testing.T) {
		t.Parallel()
		_, body := e.get(t, "/open311/v2/requests.json")
		if body != "[]" {
			t.Errorf("GET requests.json = %s: the refused posts made tickets", body)
		}
	})
}

// TestKeyRate: a key over its rate is refused with 429 and a Retry-After,
// and another key is not.
func TestKeyRate(t *testing.T) {
	t.Parallel()
	e := start(t)
	_, slow := e.addKey(t, e.r.City, 1) // one call a minute
	e.report(t, e.leak(slow))
	code, body := e.post(t, "/open311/v2/requests.json", e.leak(slow))
	if code != http.StatusTooManyRequests || !strings.Contains(body, "1 calls a minute") {
		t.Fatalf("second post with a key of 1 a minute = %d %s; want 429", code, body)
	}
	e.report(t, e.leak(e.key))
}

// TestSyntheticHidden: test traffic is not shown.
func TestSyntheticHidden(t *testing.T) {
	t.Parallel()
	e := start(t)
	resp, err := e.r.As(auth.RoleReporter, "xc-hd-dj-g01").Intake.Report(context.Background(), &whistlev1.ReportRequest{
		IdempotencyKey: "smoke-1", Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY, Source: whistlev1.Source_SOURCE_GRID_PATROL,
		Category: "water_leak", Description: "smoke", Location: &whistlev1.Location{GridId: "xc-hd-dj-g01"},
		Reporter: &whistlev1.Reporter{OrgUnitId: "xc-hd-dj-g01"}, Synthetic: true})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := e.get(t, "/open311/v2/requests/"+resp.GetTicket().GetNumber()+".json"); code != 404 {
		t.Errorf("GET a synthetic ticket = %d %s; want 404", code, body)
	}
}
