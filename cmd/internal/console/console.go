// Package console is Whistle's web console for the people who run the city:
// leaders read scorecards and rankings, department handlers work their
// inbox. It is another client of the gRPC APIs: its static page (embedded)
// calls them through a thin JSON layer (/api/v1/<Service>/<Method>, protojson
// in and out, for every unary whistle.v1 method), forwarding the signed-in
// user's bearer token; every rule stays the API's.
//
// The token is held by the page (sessionStorage) and sent as an
// Authorization header, never as a cookie, so other sites cannot make calls
// in the user's name (no CSRF); a strict content security policy allows
// only the console's own scripts, and the page writes every text from
// tickets as text.
//
// With Config.OIDC a deployment's users sign in with the city's identity
// provider (OpenID Connect, authorization code flow with PKCE, run by the
// console's server side, see oidc.go); the console then mints them a
// short-lived Whistle token of its own, which the page picks up once.
package console

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

//go:embed web
var webFS embed.FS

// User is a sample user a development console lets one sign in as.
type User struct {
	// Name is what the picker shows, e.g. "monitor".
	Name string `json:"name"`
	// Role and OrgUnit say who the user is.
	Role    string `json:"role"`
	OrgUnit string `json:"org_unit"`
	// Token returns a fresh bearer token for the user.
	Token func() (string, error) `json:"-"`
}

// Config is what the console needs.
type Config struct {
	// Conn reaches the deployment's gRPC APIs. Required.
	Conn grpc.ClientConnInterface
	// Users are the sample users of a development console, offered by a
	// picker at sign-in. Default none.
	Users []User
	// OIDC, when set, signs users in with the city's identity provider
	// ("使用城市统一身份登录" on the sign-in page). Without it, and without
	// Users, people paste a bearer token at sign-in.
	OIDC *OIDC
	// City is the root org unit, the leaders' default unit.
	City string
	// CallTimeout bounds each API call. Default 15 s.
	CallTimeout time.Duration
	// Log gets one line per failed call. Default: discarded.
	Log *slog.Logger
}

// Console serves the page and the JSON layer. Build it with New.
type Console struct {
	cfg    Config
	static http.Handler
	oidc   *oidcFlow // nil without Config.OIDC
}

// New builds the console; it fails without a connection, or with an OIDC
// configuration that lacks what it needs (it does not call the identity
// provider yet: that is done at the first sign-in).
func New(cfg Config) (*Console, error) {
	if cfg.Conn == nil {
		return nil, errors.New("console: no connection to the gRPC APIs")
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 15 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	sub, err := fs.Sub(webFS, "web")
	if err != nil {
		return nil, err
	}
	c := &Console{cfg: cfg, static: http.FileServerFS(sub)}
	if cfg.OIDC != nil {
		if c.oidc, err = newOIDCFlow(*cfg.OIDC); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Handler routes the page, the session and the API.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /", c.static)
	mux.HandleFunc("GET /session/users", c.users)
	mux.HandleFunc("POST /session", c.signIn)
	mux.HandleFunc("GET /login", c.login)
	mux.HandleFunc("GET /login/callback", c.callback)
	mux.HandleFunc("POST /session/oidc", c.finish)
	mux.HandleFunc("POST /api/v1/{service}/{method}", c.call)
	mux.HandleFunc("POST /media", c.upload)
	mux.HandleFunc("GET /media/{id}", c.download)
	mux.HandleFunc("GET /watch", c.watch)
	return headers(mux)
}

// contentPolicy lets the page load only its own scripts, styles and images,
// talk only to its own origin, and never be framed.
const contentPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", contentPolicy)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// asUser is the request's context carrying the signed-in user's token (its
// Authorization header) to the API.
func asUser(r *http.Request) context.Context {
	if auth := r.Header.Get("Authorization"); auth != "" {
		return metadata.AppendToOutgoingContext(r.Context(), "authorization", auth)
	}
	return r.Context()
}

// withTimeout bounds a call.
func (c *Console) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.cfg.CallTimeout)
}
