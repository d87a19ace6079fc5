// Package open311 is Whistle's Open311 GeoReport v2 gateway: HTTP with JSON
// and XML, mapped onto the public gRPC APIs (no second path to the data).
// Civic apps and 311 platforms list the matter catalog as services, post
// requests that become tickets, and follow them back.
//
// Reading is public, as the standard has it, and the gateway reads as its
// own principal (a monitor of the city, whose token it is given); it shows
// no personal data. Posting needs an api_key, issued to a system by the
// city's administrators (Open311KeyService); the gateway forwards it to
// intake as the call's credential, so a request is the key's: its reporting
// unit, source and rate are the key's, whatever the request says.
package open311

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/whistle-civic/whistle/pkg/client"
	"github.com/whistle-civic/whistle/pkg/egress"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// Config is what the gateway needs.
type Config struct {
	// Client talks to the deployment with the gateway's own token (a monitor
	// of the city). Required.
	Client *client.Client
	// BaseURL is the gateway's public URL, written in the discovery
	// document, e.g. "https://open311.city.gov". Required.
	BaseURL string
	// Jurisdiction is the city's id (its org unit, e.g. "hh"); a request
	// naming another jurisdiction_id is refused (404). Default: the root of
	// the active catalog's org tree.
	Jurisdiction string
	// Contact and KeyService are the discovery document's words on whom to
	// ask and how to get an api_key. Defaults say to ask the city's
	// administrators.
	Contact, KeyService string
	// Media fetches a request's media_url, refusing private addresses
	// (pkg/egress). Default: egress.Policy{}.Client(10 s).
	Media *http.Client
	// MaxMediaBytes bounds a fetched photo. Default 10 MiB.
	MaxMediaBytes int64
	// CatalogTTL is how long the catalog is kept before it is read again.
	// Default 30 s.
	CatalogTTL time.Duration
	// Log gets one line per failed call, with what to do. Default: discarded.
	Log *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// The gateway's bounds.
const (
	// MaxFormBytes bounds a POSTed form.
	MaxFormBytes = 64 << 10
	// MaxPeriod is the longest period a list may span.
	MaxPeriod = 90 * 24 * time.Hour
	// MaxRequestIDs is how many service_request_ids one GET may name.
	MaxRequestIDs = 50
	// MaxPageSize and DefaultPageSize bound the page extension's page_size;
	// MaxSkipped bounds how many requests the pages before a page may hold.
	MaxPageSize, DefaultPageSize, MaxSkipped = 500, 50, 10000
)

// Gateway serves GeoReport v2. Build it with New.
type Gateway struct {
	cfg      Config
	catalog  whistlev1.DispatchServiceClient
	monitor  whistlev1.MonitoringServiceClient
	mu       sync.Mutex
	cached   *catalog
	cachedAt time.Time
}

// New builds the gateway; it fails without a client or a base URL.
func New(cfg Config) (*Gateway, error) {
	if cfg.Client == nil {
		return nil, errors.New("open311: no client: dial the deployment with the gateway's token")
	}
	if cfg.BaseURL == "" {
		return nil, errors.New("open311: no base URL: set the gateway's public URL (WHISTLE_OPEN311_URL)")
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.Media == nil {
		cfg.Media = egress.Policy{}.Client(10 * time.Second)
	}
	if cfg.MaxMediaBytes <= 0 {
		cfg.MaxMediaBytes = 10 << 20
	}
	if cfg.CatalogTTL <= 0 {
		cfg.CatalogTTL = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Contact == "" {
		cfg.Contact = "the city's Whistle administrators"
	}
	if cfg.KeyService == "" {
		cfg.KeyService = "ask the city's Whistle administrators for an api_key (whistlectl open311 keys add)"
	}
	return &Gateway{cfg: cfg, catalog: whistlev1.NewDispatchServiceClient(cfg.Client.Conn()),
		monitor: whistlev1.NewMonitoringServiceClient(cfg.Client.Conn())}, nil
}

// Prefix is where the standard's endpoints live.
const Prefix = "/open311/v2"

// Handler routes the standard's endpoints, each in both formats
// ("….json", "….xml").
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /open311/{file}", g.route(map[string]handler{"discovery": g.discovery}))
	mux.HandleFunc("GET "+Prefix+"/{file}", g.route(map[string]handler{
		"services": g.services, "requests": g.listRequests, "servicerequestupdates": g.updates}))
	mux.HandleFunc("POST "+Prefix+"/{file}", g.route(map[string]handler{"requests": g.postRequest}))
	mux.HandleFunc("GET "+Prefix+"/services/{file}", g.withID(g.serviceDefinition))
	mux.HandleFunc("GET "+Prefix+"/requests/{file}", g.withID(g.getRequest))
	mux.HandleFunc("GET "+Prefix+"/tokens/{file}", g.withID(g.token))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErrors(w, formatOf(r.URL.Path), notFound("no such endpoint: the endpoints are under %s (see /open311/discovery.json)", Prefix))
	})
	return securityHeaders(mux)
}

// A handler answers one call in a format with a document, or an error.
type handler func(ctx context.Context, c call) (any, error)

// call is what a handler gets: the form (query and body, empty values
// dropped), the format and the id in the path, if any.
type call struct {
	form   map[string][]string
	format format
	id     string
	r      *http.Request
}

// route picks the handler of a "name.format" file.
func (g *Gateway) route(hs map[string]handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name, f, ok := splitFile(r.PathValue("file"))
		h, known := hs[name]
		if !ok || !known {
			writeErrors(w, f, notFound("no such endpoint %q: see /open311/discovery.json", r.URL.Path))
			return
		}
		g.serve(w, r, f, "", h)
	}
}

// withID serves "{id}.format" files.
func (g *Gateway) withID(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, f, ok := splitFile(r.PathValue("file"))
		if !ok || id == "" {
			writeErrors(w, f, notFound("no such endpoint %q: end the path with .json or .xml", r.URL.Path))
			return
		}
		g.serve(w, r, f, id, h)
	}
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, f format, id string, h handler) {
	form, err := readForm(w, r)
	if err == nil {
		err = g.checkJurisdiction(r.Context(), form)
	}
	var doc any
	if err == nil {
		doc, err = h(r.Context(), call{form: form, format: f, id: id, r: r})
	}
	if err != nil {
		e := asError(err)
		if e.Code >= 500 {
			g.cfg.Log.ErrorContext(r.Context(), "open311 call failed", "path", r.URL.Path, "err", err)
		}
		writeErrors(w, f, e)
		return
	}
	write(w, f, http.StatusOK, doc)
}

// readForm reads the query and, for a POST, the form-encoded body (at most
// MaxFormBytes), dropping empty values: the standard treats an empty
// optional parameter as absent.
func readForm(w http.ResponseWriter, r *http.Request) (map[string][]string, error) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, badRequest("the form cannot be read (%v): send application/x-www-form-urlencoded of at most 64 KiB", err)
	}
	form := map[string][]string{}
	for k, vs := range r.Form {
		for _, v := range vs {
			if v = strings.TrimSpace(v); v != "" {
				form[k] = append(form[k], v)
			}
		}
	}
	return form, nil
}

// checkJurisdiction refuses another city's jurisdiction_id.
func (g *Gateway) checkJurisdiction(ctx context.Context, form map[string][]string) error {
	j := first(form, "jurisdiction_id")
	if j == "" {
		return nil
	}
	want := g.cfg.Jurisdiction
	if want == "" {
		cat, err := g.catalogNow(ctx)
		if err != nil {
			return err
		}
		want = cat.root
	}
	if j != want {
		return notFound("jurisdiction_id %q is not served here: this gateway serves %q (or leave it out)", j, want)
	}
	return nil
}

// first returns a form value, or "".
func first(form map[string][]string, key string) string {
	if vs := form[key]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// securityHeaders marks every answer as data, never a page.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		w.Header().Set("Access-Control-Allow-Origin", "*") // public reads, and posts carry their own key
		h.ServeHTTP(w, r)
	})
}
