package console_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"

	"github.com/whistle-civic/whistle/cmd/internal/console"
	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

// cityPassword is every test account's password at the test provider.
const cityPassword = "correct horse 路灯 2026"

// cityUsers are the accounts of the city's (test) identity provider, with
// the claims its administrators gave them.
var cityUsers = map[string]hydraUser{
	"wang.fang":    {cityPassword, "u-1001", map[string]any{"whistle_roles": []string{"department_handler"}, "whistle_org": handlerDept, "name": "王芳"}},
	"li.wei":       {cityPassword, "u-1002", map[string]any{"whistle_roles": "monitor", "whistle_org": "hh"}},
	"zhang.mayor":  {cityPassword, "u-1003", map[string]any{"whistle_roles": []string{"mayor"}, "whistle_org": "hh"}},
	"chen.none":    {cityPassword, "u-1004", map[string]any{"whistle_org": "hh"}},
	"liu.resident": {cityPassword, "u-1005", map[string]any{"whistle_roles": []string{"resident", "system"}, "whistle_org": "hh"}},
	"zhao.nowhere": {cityPassword, "u-1006", map[string]any{"whistle_roles": []string{"monitor"}, "whistle_org": "no-such-unit"}},
	"sun.badorg":   {cityPassword, "u-1007", map[string]any{"whistle_roles": []string{"monitor"}, "whistle_org": "<b>hh</b>"}},
}

// cityConsole is a console that signs people in at a test provider, with
// a client of its own there, minting their tokens with the stack's key.
type cityConsole struct {
	url              string // with its final slash
	con              *console.Console
	clientID, secret string
}

type cityOptions struct {
	public bool             // a public client: PKCE alone, no secret
	clock  func() time.Time // the console's clock
}

func newCityConsole(t *testing.T, r *stacktest.Running, h *hydra, logs io.Writer, o cityOptions) cityConsole {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String() + "/"
	id, secret := h.client(t, base+"login/callback", o.public)
	signer, err := auth.LoadSigner(r.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	con, err := console.New(console.Config{Conn: grpcConn(t, r), City: r.City,
		Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OIDC: &console.OIDC{Issuer: h.issuer, ClientID: id, ClientSecret: secret, RedirectURL: base + "login/callback",
			Signer: signer, Clock: o.clock}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = con.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return cityConsole{url: base, con: con, clientID: id, secret: secret}
}

// begin starts a sign-in as the browser does when the button is clicked:
// the console answers a redirect to the provider's authorization endpoint.
func (c cityConsole) begin(t *testing.T, a *agent) *url.URL {
	t.Helper()
	resp := a.get(c.url + "login")
	if resp.status != http.StatusFound || resp.location == nil {
		t.Fatalf("GET /login = %d %s; want a redirect to the identity provider", resp.status, resp.body)
	}
	return resp.location
}

// secrets collects what must never be logged.
type secrets struct {
	mu   sync.Mutex
	list []string
}

func (s *secrets) add(v ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, v...)
}

// checkLogs fails the test if the logs hold any of the secrets.
func (s *secrets) checkLogs(t *testing.T, logs string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.list) == 0 {
		t.Fatal("no secrets were collected to look for")
	}
	for _, v := range s.list {
		if v != "" && strings.Contains(logs, v) {
			t.Errorf("the console's log holds a secret (%.12s…):\n%s", v, logs)
		}
	}
}

// handoffSet reports whether a response sets the cookie the page's token is
// picked up with.
func handoffSet(h http.Header) bool {
	for _, c := range h.Values("Set-Cookie") {
		if strings.HasPrefix(c, "whistle_oidc_handoff=") && !strings.HasPrefix(c, "whistle_oidc_handoff=;") {
			return true
		}
	}
	return false
}

// claimsOf decodes a JWT's payload, unverified (the verifier has checked it).
func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	if err != nil || json.Unmarshal(b, &c) != nil {
		t.Fatalf("the token's payload does not decode: %v", err)
	}
	return c
}

// TestCitySignIn: a department handler clicks "sign in with the city's
// account", signs in at the identity provider's login form, and lands in
// the console signed in for their department, whose inbox loads with the
// token the console minted. The token is in no URL of the tab's history
// and in none of the console's logs.
func TestCitySignIn(t *testing.T) {
	h := startHydra(t, cityUsers) // first: without hydra the test fails at once, saying to run make tools
	r := stacktest.Start(t)
	logs := &lockedBuffer{}
	c := newCityConsole(t, r, h, logs, cityOptions{})
	rep, err := r.As(auth.RoleReporter, "xc-hd-dj-g01").Intake.Report(t.Context(), &whistlev1.ReportRequest{
		IdempotencyKey: "city-signin-1", Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY, Source: whistlev1.Source_SOURCE_GRID_PATROL,
		Category: "street_light_out", Title: "西街路灯", Description: "路灯不亮", Location: &whistlev1.Location{GridId: "xc-hd-dj-g01"},
		Reporter: &whistlev1.Reporter{OrgUnitId: "xc-hd-dj-g01"}})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{r: r, url: c.url, ctx: browser(t)}
	e.run(t, "open the console", chromedp.Navigate(c.url+"#/login"))
	e.waitText(t, "#oidc-signin", "the city-account button", func(s string) bool { return s == "使用城市统一身份登录" })
	e.screenshot(t, "signin-city")
	e.run(t, "sign in with the city's account", chromedp.Click(chromedp.CSS("#oidc-signin")), chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "wang.fang"), chromedp.SendKeys(chromedp.CSS("#password"), cityPassword),
		chromedp.Click(chromedp.CSS("#login-submit")))
	e.waitText(t, "#who", "signed in for the department", func(s string) bool { return s == "部门承办人 · "+handlerDept })
	row := `#inbox tr[data-ticket="` + rep.GetTicket().GetId() + `"]`
	e.waitText(t, row, "the department's ticket in the inbox", func(s string) bool { return strings.Contains(s, rep.GetTicket().GetNumber()) })
	e.screenshot(t, "signin-city-inbox")

	token := value(t, e, "the token in sessionStorage", chromedp.Evaluate[string](`JSON.parse(sessionStorage.getItem('whistle.session')).token`))
	v, err := auth.NewVerifier(t.Context(), auth.VerifierConfig{JWKSFile: r.JWKS, Audience: "whistle"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(token)
	if err != nil || p.Subject != "u-1001" || p.OrgUnit != handlerDept || len(p.Roles) != 1 || p.Roles[0] != auth.RoleDepartmentHandler {
		t.Fatalf("the minted token names %+v (%v); want u-1001, a department handler of %s", p, err, handlerDept)
	}
	if cl := claimsOf(t, token); cl["exp"].(float64)-cl["iat"].(float64) != console.DefaultSessionTTL.Seconds() || cl["iss"] != "whistle-console" {
		t.Errorf("the token's claims are %v; want 8 hours of life, issued by whistle-console", cl)
	}
	again := value(t, e, "pick the token up a second time", chromedp.Evaluate[int](`fetch('session/oidc', {method: 'POST'}).then((r) => r.status)`, chromedp.EvalAwaitPromise))
	if again != http.StatusUnauthorized {
		t.Errorf("the token was handed out again: %d", again)
	}

	history := value(t, e, "the tab's history", chromedp.NavigationEntries())
	here := value(t, e, "the tab's location", chromedp.Location())
	found := &secrets{}
	found.add(token, c.secret)
	urls := []string{here}
	for _, en := range history.Entries {
		urls = append(urls, en.URL)
	}
	for _, u := range urls {
		if strings.Contains(u, token) || strings.Contains(u, strings.Split(token, ".")[2]) {
			t.Errorf("the token is in a URL of the tab's history: %s", u)
		}
		// The callback answers a redirect, so its URL (with the one-time
		// code) does not stay in the history either.
		if pu, err := url.Parse(u); err == nil && (pu.Query().Get("code") != "" || strings.HasSuffix(pu.Path, "/login/callback")) {
			t.Errorf("the callback's URL is in the tab's history: %s", u)
		}
	}
	if !strings.HasPrefix(here, c.url+"#/inbox") {
		t.Errorf("the tab is at %s; want the inbox", here)
	}
	found.checkLogs(t, logs.String())
	if !strings.Contains(logs.String(), `"msg":"console sign-in"`) {
		t.Errorf("the sign-in is not logged:\n%s", logs.String())
	}
}

// TestCitySignInRefusals: the callback refuses a sign-in whose state is
// missing, wrong, another browser's or used before, whose ID token carries
// another nonce or has expired, whose code was issued to another client,
// and an account whose claims map to no Whistle role or to no org unit of
// the catalog; each answers a page that says what to do, and none leaves a
// token to pick up. A sign-in that passes hands its token out once.
func TestCitySignInRefusals(t *testing.T) {
	t.Parallel()
	h := startHydra(t, cityUsers) // first: without hydra the test fails at once, saying to run make tools
	r := stacktest.Start(t)
	logs := &lockedBuffer{}
	c := newCityConsole(t, r, h, logs, cityOptions{})
	public := newCityConsole(t, r, h, logs, cityOptions{public: true})
	late := newCityConsole(t, r, h, logs, cityOptions{clock: func() time.Time { return time.Now().Add(2 * time.Hour) }})
	other, _ := h.client(t, c.url+"login/callback", true) // another client, registered for the same callback
	found := &secrets{}
	found.add(c.secret, late.secret)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the console's log:\n%s\nhydra's output:\n%s", logs.String(), h.out.String())
		}
	})

	tests := []struct {
		name     string
		console  cityConsole
		user     string
		auth     func(q url.Values)                    // changes the authorization request
		callback func(t *testing.T, u *url.URL) *agent // changes the callback (and may return another browser)
		status   int
		want     string
	}{
		{name: "no state", user: "wang.fang", status: http.StatusBadRequest, want: "unknown, has expired or was already used",
			callback: func(_ *testing.T, u *url.URL) *agent {
				q := u.Query()
				q.Del("state")
				u.RawQuery = q.Encode()
				return nil
			}},
		{name: "a wrong state", user: "wang.fang", status: http.StatusBadRequest, want: "unknown, has expired or was already used",
			callback: func(_ *testing.T, u *url.URL) *agent {
				q := u.Query()
				q.Set("state", randomHex(16))
				u.RawQuery = q.Encode()
				return nil
			}},
		{name: "another browser's sign-in", user: "wang.fang", status: http.StatusBadRequest, want: "not started in this browser",
			callback: func(t *testing.T, _ *url.URL) *agent { return newAgent(t) }},
		{name: "another nonce", user: "wang.fang", status: http.StatusUnauthorized, want: "did not verify",
			auth: func(q url.Values) { q.Set("nonce", randomHex(16)) }},
		{name: "an expired ID token", console: late, user: "wang.fang", status: http.StatusUnauthorized, want: "did not verify"},
		{name: "a code issued to another client", user: "wang.fang", status: http.StatusBadGateway, want: "did not exchange",
			auth: func(q url.Values) { q.Set("client_id", other) }},
		{name: "an unknown role", user: "zhang.mayor", status: http.StatusForbidden, want: "ask your administrator to give your account, in the city's identity provider's whistle_roles claim"},
		{name: "no role claim", user: "chen.none", status: http.StatusForbidden, want: "has no Whistle role"},
		{name: "a resident's and a system's roles", user: "liu.resident", status: http.StatusForbidden, want: "has no Whistle role"},
		{name: "an org unit not in the catalog", user: "zhao.nowhere", status: http.StatusForbidden, want: `org unit "no-such-unit" is not in the city's catalog`},
		{name: "a malformed org unit", user: "sun.badorg", status: http.StatusForbidden, want: "has no valid org unit (claim whistle_org"},
	}
	// The subtests take turns: Hydra's in-memory store (SQLite) refuses
	// concurrent sign-ins ("unable to serialize access"); each test
	// function has a Hydra of its own, and those run in parallel.
	t.Run("refused", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				con := tt.console
				if con.con == nil {
					con = c
				}
				a := newAgent(t)
				authURL := con.begin(t, a)
				if tt.auth != nil {
					q := authURL.Query()
					tt.auth(q)
					authURL.RawQuery = q.Encode()
				}
				cb := h.authorize(a, authURL, con.url+"login/callback", tt.user, cityPassword)
				found.add(cb.Query().Get("code"))
				browser := a
				if tt.callback != nil {
					if b := tt.callback(t, cb); b != nil {
						browser = b
					}
				}
				resp := browser.get(cb.String())
				if page := html.UnescapeString(resp.body); resp.status != tt.status || !strings.Contains(page, tt.want) || !strings.Contains(page, "返回登录") {
					t.Fatalf("the callback answered %d:\n%s\nwant %d with %q and a way back", resp.status, resp.body, tt.status, tt.want)
				}
				if handoffSet(resp.header) {
					t.Errorf("a refused sign-in left a token to pick up: %v", resp.header.Values("Set-Cookie"))
				}
				for _, b := range []*agent{a, browser} {
					if fin := b.post(con.url+"session/oidc", "", ""); fin.status != http.StatusUnauthorized {
						t.Errorf("after a refused sign-in, POST /session/oidc = %d %s; want 401", fin.status, fin.body)
					}
				}
			})
		}
	})

	t.Run("once", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			con  cityConsole
			user string
			role auth.Role
			unit string
		}{
			{"a confidential client", c, "wang.fang", auth.RoleDepartmentHandler, handlerDept},
			{"a public client, PKCE alone", public, "li.wei", auth.RoleMonitor, "hh"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				a := newAgent(t)
				authURL := tt.con.begin(t, a)
				q := authURL.Query()
				if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) < 43 || q.Get("nonce") == "" || len(q.Get("state")) < 32 ||
					q.Get("client_id") != tt.con.clientID || q.Get("redirect_uri") != tt.con.url+"login/callback" || q.Get("response_type") != "code" ||
					!strings.Contains(q.Get("scope"), "openid") {
					t.Fatalf("the authorization request is %s; want the code flow with PKCE (S256), a state and a nonce", authURL.Redacted())
				}
				cb := h.authorize(a, authURL, tt.con.url+"login/callback", tt.user, cityPassword)
				found.add(cb.Query().Get("code"), cb.Query().Get("state"))
				resp := a.get(cb.String())
				if resp.status != http.StatusSeeOther || resp.location == nil || resp.location.String() != tt.con.url+"#/login/oidc" || !handoffSet(resp.header) {
					t.Fatalf("the callback answered %d (to %v, cookies %v):\n%s\nwant a redirect to the page with a token to pick up",
						resp.status, resp.location, resp.header.Values("Set-Cookie"), resp.body)
				}
				for _, ck := range resp.header.Values("Set-Cookie") {
					if strings.HasPrefix(ck, "whistle_oidc_handoff=") && (!strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Lax") ||
						!strings.Contains(ck, "Path=/session/oidc") || !strings.Contains(ck, "Max-Age=120")) {
						t.Errorf("the handoff cookie is %q; want HttpOnly, SameSite=Lax, for /session/oidc only, for 2 minutes", ck)
					}
					found.add(strings.TrimPrefix(strings.Split(ck, ";")[0], "whistle_oidc_handoff="))
				}
				fin := a.post(tt.con.url+"session/oidc", "", "")
				var s struct {
					Token   string `json:"token"`
					Role    string `json:"role"`
					OrgUnit string `json:"org_unit"`
				}
				_ = json.Unmarshal([]byte(fin.body), &s)
				if fin.status != http.StatusOK || s.Token == "" || s.Role != string(tt.role) || s.OrgUnit != tt.unit {
					t.Fatalf("POST /session/oidc = %d %s; want the token of a %s of %s", fin.status, fin.body, tt.role, tt.unit)
				}
				found.add(s.Token)
				req, _ := http.NewRequest(http.MethodPost, tt.con.url+"api/v1/DispatchService/GetCatalog", strings.NewReader(`{}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+s.Token)
				if call := a.do(req); call.status != http.StatusOK {
					t.Errorf("a call with the minted token answered %d %s", call.status, call.body)
				}
				if again := a.post(tt.con.url+"session/oidc", "", ""); again.status != http.StatusUnauthorized {
					t.Errorf("the token was handed out a second time: %d %s", again.status, again.body)
				}
				replay := a.get(cb.String())
				if replay.status != http.StatusBadRequest || !strings.Contains(replay.body, "was already used") || handoffSet(replay.header) {
					t.Errorf("the callback replayed answered %d %v:\n%s\nwant 400, no token", replay.status, replay.header.Values("Set-Cookie"), replay.body)
				}
				if strings.Contains(cb.String(), s.Token) || strings.Contains(resp.location.String(), s.Token) {
					t.Error("the token is in a URL")
				}
			})
		}
	})
	found.checkLogs(t, logs.String())
}

// TestIDTokenChecks: the console's checks of an ID token, on tokens the
// provider issued: its own client's passes with the sign-in's nonce; a
// token issued to another client (audience), with another nonce, expired
// by the console's clock, or altered is refused.
func TestIDTokenChecks(t *testing.T) {
	t.Parallel()
	h := startHydra(t, cityUsers) // first: without hydra the test fails at once, saying to run make tools
	r := stacktest.Start(t)
	c := newCityConsole(t, r, h, io.Discard, cityOptions{})
	late := newCityConsole(t, r, h, io.Discard, cityOptions{clock: func() time.Time { return time.Now().Add(2 * time.Hour) }})
	const elsewhere = "http://127.0.0.1:9/elsewhere" // never called: the flow stops where the provider sends the browser
	otherID, otherSecret := h.client(t, elsewhere, false)
	// idToken runs the code flow as a client (not through the console) and returns its ID token.
	idToken := func(clientID, secret, redirect, nonce string) string {
		t.Helper()
		oc := &oauth2.Config{ClientID: clientID, ClientSecret: secret, RedirectURL: redirect, Scopes: []string{"openid"},
			Endpoint: oauth2.Endpoint{AuthURL: h.issuer + "oauth2/auth", TokenURL: h.issuer + "oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
		verifier := oauth2.GenerateVerifier()
		authURL, _ := url.Parse(oc.AuthCodeURL(randomHex(16), oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", nonce)))
		cb := h.authorize(newAgent(t), authURL, redirect, "wang.fang", cityPassword)
		tok, err := oc.Exchange(context.Background(), cb.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange the code: %v", err)
		}
		raw, _ := tok.Extra("id_token").(string)
		if raw == "" {
			t.Fatal("no ID token")
		}
		return raw
	}
	own := idToken(c.clientID, c.secret, c.url+"login/callback", "nonce-own-1234")
	foreign := idToken(otherID, otherSecret, elsewhere, "nonce-foreign-1234")
	lateOwn := idToken(late.clientID, late.secret, late.url+"login/callback", "nonce-own-1234")
	parts := strings.Split(own, ".")
	altered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+h.issuer+`","aud":["`+c.clientID+`"],"sub":"admin","nonce":"nonce-own-1234","exp":4102444800}`)) + "." + parts[2]
	for _, tt := range []struct {
		name, token, nonce string
		con                cityConsole
		want               string // in the error; "" for none
	}{
		{"its own", own, "nonce-own-1234", c, ""},
		{"another client's", foreign, "nonce-foreign-1234", c, "audience"},
		{"another nonce", own, "nonce-other-1234", c, "nonce"},
		{"expired", lateOwn, "nonce-own-1234", late, "expired"},
		{"altered", altered, "nonce-own-1234", c, "signature"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := console.CheckIDToken(t.Context(), tt.con.con, tt.token, tt.nonce)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("the ID token is refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("the ID token: %v; want it refused for its %s", err, tt.want)
			}
		})
	}
}
