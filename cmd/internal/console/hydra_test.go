package console_test

// A real OpenID provider for the console's sign-in tests: Ory Hydra
// (Apache-2.0, pinned in the Makefile, `make tools` installs .bin/hydra)
// with its in-memory store, on free loopback ports, and the login and
// consent app Hydra expects beside it (Hydra authenticates nobody itself:
// the app checks the user's password and tells Hydra's admin API who
// signed in and which claims the ID token carries). No part of the
// provider is faked.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// envHydra names the variable that may hold the hydra binary's path.
const envHydra = "WHISTLE_HYDRA"

// hydraUser is an account at the test provider.
type hydraUser struct {
	Password, Subject string
	// Claims go into the ID token (the consent app grants them).
	Claims map[string]any
}

// hydra is a running Hydra and its login and consent app.
type hydra struct {
	issuer string // the public URL, with its final slash, as the issuer
	admin  string // the admin API's base URL
	app    *httptest.Server
	users  map[string]hydraUser // by user name
	out    *lockedBuffer
}

// hydraBinary is $WHISTLE_HYDRA, hydra on PATH, or <repository>/.bin/hydra;
// without one the test fails (it does not skip), saying to run make tools.
func hydraBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(envHydra); p != "" {
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			t.Fatalf("%s=%s is not the hydra binary: fix the path, or unset it and run `make tools` to install Ory Hydra", envHydra, p)
		}
		return p
	}
	if p, err := exec.LookPath("hydra"); err == nil {
		return p
	}
	if dir, err := os.Getwd(); err == nil {
		for ; ; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
				p := filepath.Join(dir, ".bin", "hydra")
				if st, err := os.Stat(p); err == nil && !st.IsDir() {
					return p
				}
				break
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	t.Fatal("the console's sign-in tests need Ory Hydra (the OpenID provider they sign in at): run `make tools` " +
		"to install it into .bin/hydra, or set " + envHydra + " to its path")
	return ""
}

// startHydra runs Hydra with its login and consent app for users, until
// the test ends.
func startHydra(t *testing.T, users map[string]hydraUser) *hydra {
	t.Helper()
	bin := hydraBinary(t)
	h := &hydra{users: users, out: &lockedBuffer{}}
	h.app = httptest.NewServer(h.loginApp())
	t.Cleanup(h.app.Close)
	dir := t.TempDir()
	var err error
	for attempt := 0; ; attempt++ {
		if err = h.start(t, bin, dir); err == nil {
			return h
		}
		if !errors.Is(err, errPortTaken) || attempt == 4 {
			t.Fatalf("start Ory Hydra (%s): %v\nits output:\n%s", bin, err, h.out.String())
		}
	}
}

var errPortTaken = errors.New("port taken")

// start writes a configuration on two free ports and runs hydra serve all
// with the in-memory store, waiting until both APIs answer.
func (h *hydra) start(t *testing.T, bin, dir string) error {
	public, admin := freeAddr(t), freeAddr(t)
	h.issuer, h.admin = "http://"+public+"/", "http://"+admin
	host := func(a string) (string, int) {
		hst, p, _ := net.SplitHostPort(a)
		var port int
		fmt.Sscan(p, &port)
		return hst, port
	}
	ph, pp := host(public)
	ah, ap := host(admin)
	cfg := map[string]any{
		"serve": map[string]any{
			"public":  map[string]any{"host": ph, "port": pp},
			"admin":   map[string]any{"host": ah, "port": ap},
			"cookies": map[string]any{"same_site_mode": "Lax"},
		},
		"urls": map[string]any{
			"self":    map[string]any{"issuer": h.issuer},
			"login":   h.app.URL + "/login",
			"consent": h.app.URL + "/consent",
			"error":   h.app.URL + "/error",
		},
		"secrets": map[string]any{"system": []string{randomHex(24)}},
		"oauth2":  map[string]any{"pkce": map[string]any{"enforced": true}},
		"log":     map[string]any{"level": "warn", "leak_sensitive_values": false},
	}
	b, _ := json.Marshal(cfg)
	file := filepath.Join(dir, "hydra.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return err
	}
	cmd := exec.Command(bin, "serve", "all", "--dev", "--sqa-opt-out", "--config", file)
	// Only what hydra needs: none of a developer's own HYDRA-style settings
	// (it reads any configuration key from the environment).
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "DSN=memory"}
	cmd.Stdout, cmd.Stderr = h.out, h.out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		select {
		case <-exited:
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	client := &http.Client{Timeout: time.Second}
	ready := func(u string) bool {
		resp, err := client.Get(u)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	deadline := time.Now().Add(60 * time.Second)
	for delay := 10 * time.Millisecond; !ready(h.admin+"/health/ready") || !ready(h.issuer+".well-known/openid-configuration"); delay = min(2*delay, 200*time.Millisecond) {
		select {
		case <-exited:
			if strings.Contains(h.out.String(), "address already in use") {
				return errPortTaken
			}
			return fmt.Errorf("hydra exited: %v", cmd.ProcessState)
		case <-time.After(delay):
		}
		if time.Now().After(deadline) {
			stop()
			return errors.New("hydra did not answer within 60 s")
		}
	}
	t.Cleanup(stop)
	return nil
}

// client registers an OAuth 2 client for redirect (a confidential one with
// a secret, or a public one without) and returns its id and secret.
func (h *hydra) client(t *testing.T, redirect string, public bool) (id, secret string) {
	t.Helper()
	method := "client_secret_basic"
	if public {
		method = "none"
	}
	var out struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := h.call(http.MethodPost, "/admin/clients", map[string]any{
		"client_name": "whistle console", "grant_types": []string{"authorization_code"}, "response_types": []string{"code"},
		"redirect_uris": []string{redirect}, "scope": "openid profile", "token_endpoint_auth_method": method,
	}, &out); err != nil {
		t.Fatalf("register a client at hydra: %v", err)
	}
	return out.ClientID, out.ClientSecret
}

// call calls Hydra's admin API with a JSON body, decoding its JSON answer.
func (h *hydra) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.admin+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s %s", method, path, resp.Status, b)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

var loginForm = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>城市统一身份认证</title></head>
<body><h1>城市统一身份认证 · City account</h1>
{{if .Error}}<p id="login-error">{{.Error}}</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="challenge" value="{{.Challenge}}">
<label>用户名 <input id="username" name="username" autocomplete="username"></label>
<label>密码 <input id="password" name="password" type="password" autocomplete="current-password"></label>
<button id="login-submit" type="submit">登录</button>
</form></body></html>`))

// loginApp is the login and consent app: a form for the user's name and
// password, accepted through the admin API for the user's subject, then
// consent granted with the user's claims in the ID token.
func (h *hydra) loginApp() http.Handler {
	mux := http.NewServeMux()
	redirect := func(w http.ResponseWriter, r *http.Request, path string, in any) {
		var out struct {
			RedirectTo string `json:"redirect_to"`
		}
		if err := h.call(http.MethodPut, path, in, &out); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		http.Redirect(w, r, out.RedirectTo, http.StatusFound)
	}
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		challenge := r.URL.Query().Get("login_challenge")
		var req struct {
			Skip    bool   `json:"skip"`
			Subject string `json:"subject"`
		}
		if err := h.call(http.MethodGet, "/admin/oauth2/auth/requests/login?login_challenge="+url.QueryEscape(challenge), nil, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if req.Skip {
			redirect(w, r, "/admin/oauth2/auth/requests/login/accept?login_challenge="+url.QueryEscape(challenge), map[string]any{"subject": req.Subject})
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = loginForm.Execute(w, map[string]string{"Challenge": challenge})
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		challenge := r.PostFormValue("challenge")
		u, ok := h.users[r.PostFormValue("username")]
		if !ok || u.Password != r.PostFormValue("password") {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusUnauthorized)
			_ = loginForm.Execute(w, map[string]string{"Challenge": challenge, "Error": "用户名或密码错误 · wrong name or password"})
			return
		}
		redirect(w, r, "/admin/oauth2/auth/requests/login/accept?login_challenge="+url.QueryEscape(challenge),
			map[string]any{"subject": u.Subject, "remember": false})
	})
	mux.HandleFunc("GET /consent", func(w http.ResponseWriter, r *http.Request) {
		challenge := r.URL.Query().Get("consent_challenge")
		var req struct {
			Subject   string   `json:"subject"`
			Scopes    []string `json:"requested_scope"`
			Audiences []string `json:"requested_access_token_audience"`
		}
		if err := h.call(http.MethodGet, "/admin/oauth2/auth/requests/consent?consent_challenge="+url.QueryEscape(challenge), nil, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var claims map[string]any
		for _, u := range h.users {
			if u.Subject == req.Subject {
				claims = u.Claims
			}
		}
		redirect(w, r, "/admin/oauth2/auth/requests/consent/accept?consent_challenge="+url.QueryEscape(challenge), map[string]any{
			"grant_scope": req.Scopes, "grant_access_token_audience": req.Audiences, "remember": false,
			"session": map[string]any{"id_token": claims}})
	})
	mux.HandleFunc("GET /error", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "hydra: "+r.URL.Query().Get("error")+": "+r.URL.Query().Get("error_description"), http.StatusBadRequest)
	})
	return mux
}

// agent is a browser without a page, for the flow's Go tests: it keeps
// cookies and follows no redirect by itself.
type agent struct {
	t *testing.T
	c *http.Client
}

func newAgent(t *testing.T) *agent {
	jar, _ := cookiejar.New(nil)
	return &agent{t: t, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// response is an answer, read whole.
type response struct {
	status   int
	location *url.URL // of a redirect
	body     string
	header   http.Header
}

func (a *agent) do(req *http.Request) response {
	a.t.Helper()
	resp, err := a.c.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", req.Method, req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	out := response{status: resp.StatusCode, body: string(b), header: resp.Header}
	if loc, err := resp.Location(); err == nil {
		out.location = loc
	}
	return out
}

func (a *agent) get(u string) response {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	return a.do(req)
}

func (a *agent) post(u, ctype, body string) response {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return a.do(req)
}

// authorize takes an authorization URL through Hydra, signing in at the
// login app as user with password, and returns the URL Hydra sends the
// browser back to (the client's redirect URL with code and state, or an
// error), without calling it.
func (h *hydra) authorize(a *agent, auth *url.URL, redirect, user, password string) *url.URL {
	a.t.Helper()
	back, _ := url.Parse(redirect)
	app, _ := url.Parse(h.app.URL)
	u := auth
	for range 20 {
		if u.Host == back.Host && u.Path == back.Path {
			return u
		}
		var resp response
		if u.Host == app.Host && u.Path == "/login" {
			if page := a.get(u.String()); page.status != http.StatusOK {
				a.t.Fatalf("the login app answered %d: %s", page.status, page.body)
			}
			resp = a.post(h.app.URL+"/login", "application/x-www-form-urlencoded", url.Values{
				"challenge": {u.Query().Get("login_challenge")}, "username": {user}, "password": {password}}.Encode())
		} else {
			resp = a.get(u.String())
		}
		if resp.location == nil {
			a.t.Fatalf("GET %s answered %d without a redirect: %s", u.Redacted(), resp.status, resp.body)
		}
		u = resp.location
	}
	a.t.Fatalf("more than 20 redirects from %s", auth.Redacted())
	return nil
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// lockedBuffer collects output written from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
