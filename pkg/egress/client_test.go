package egress_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/whistle-civic/whistle/pkg/egress"
)

// loopback allows exactly 127.0.0.1, where httptest servers listen.
var loopback = egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}

func server(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") }

// redirectTo answers every request with a redirect to target.
func redirectTo(target string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, target, http.StatusFound) }
}

func get(p egress.Policy, u string) (string, error) {
	resp, err := p.Client(0).Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestClientConnectsOnlyWhereThePolicyAllows(t *testing.T) {
	t.Parallel()
	srv := server(t, ok)
	port := fmt.Sprint(srv.Listener.Addr().(*net.TCPAddr).Port)
	self := server(t, nil)
	self.Config.Handler = redirectTo(self.URL) // a loop
	tests := []struct {
		name   string
		policy egress.Policy
		url    string
		want   error // nil: reached
	}{
		{"loopback refused by default", egress.Policy{}, srv.URL, egress.ErrRefused},
		{"loopback allowed by /32", loopback, srv.URL, nil},
		{"a name resolving to loopback", egress.Policy{}, "http://localhost:" + port + "/", egress.ErrRefused},
		{"another loopback address", loopback, "http://127.0.0.2:" + port + "/", egress.ErrRefused},
		{"redirect to another loopback address", loopback,
			server(t, redirectTo("http://127.0.0.2:"+port+"/")).URL, egress.ErrRefused},
		{"redirect to a private address", loopback, server(t, redirectTo("http://10.0.0.1/")).URL, egress.ErrRefused},
		{"redirect to the metadata endpoint", loopback,
			server(t, redirectTo("http://169.254.169.254/latest/meta-data/")).URL, egress.ErrRefused},
		{"allowed redirect", loopback, server(t, redirectTo(srv.URL)).URL, nil},
		{"redirect to another scheme", loopback, server(t, redirectTo("ftp://example.com/")).URL, egress.ErrScheme},
		{"redirect loop", loopback, self.URL, egress.ErrTooManyRedirects},
		{"another scheme", loopback, "ftp://127.0.0.1:" + port + "/", egress.ErrScheme},
		{"file scheme", loopback, "file:///etc/passwd", egress.ErrScheme},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body, err := get(tc.policy, tc.url)
			if tc.want == nil {
				if err != nil || body != "hello" {
					t.Fatalf("GET %s = %q, %v; want hello", tc.url, body, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("GET %s = %q, %v; want %v", tc.url, body, err, tc.want)
			}
		})
	}
}

func TestClientRefusesARedirectToANameResolvingToLoopback(t *testing.T) {
	t.Parallel()
	target := server(t, ok)
	port := target.Listener.Addr().(*net.TCPAddr).Port
	// The redirecting server listens on 127.0.0.2, the only address allowed.
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	srv := httptest.NewUnstartedServer(redirectTo(fmt.Sprintf("http://localhost:%d/", port)))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	p := egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}
	if _, err := get(p, srv.URL); !errors.Is(err, egress.ErrRefused) {
		t.Fatalf("GET %s, redirected to localhost: %v; want ErrRefused", srv.URL, err)
	}
}

func TestClientFollowsAtMostMaxRedirects(t *testing.T) {
	t.Parallel()
	for _, hops := range []int{egress.MaxRedirects, egress.MaxRedirects + 1} {
		t.Run(fmt.Sprint(hops), func(t *testing.T) {
			t.Parallel()
			srv := server(t, nil)
			srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var n int
				_, _ = fmt.Sscan(r.URL.Query().Get("n"), &n)
				if n == hops {
					ok(w, r)
					return
				}
				http.Redirect(w, r, fmt.Sprintf("%s/?n=%d", srv.URL, n+1), http.StatusFound)
			})
			_, err := get(loopback, srv.URL+"/?n=0")
			if want := hops > egress.MaxRedirects; errors.Is(err, egress.ErrTooManyRedirects) != want {
				t.Fatalf("%d redirects: %v", hops, err)
			}
		})
	}
}

func TestTransportIgnoresProxiesFromTheEnvironment(t *testing.T) {
	t.Parallel()
	tr := egress.Policy{}.Transport(0)
	if tr.Proxy != nil || tr.ResponseHeaderTimeout != egress.DefaultTimeout || tr.TLSHandshakeTimeout == 0 ||
		tr.MaxIdleConnsPerHost == 0 {
		t.Fatalf("transport %+v", tr)
	}
	if c := (egress.Policy{}).Client(0); c.Timeout != egress.DefaultTimeout || c.CheckRedirect == nil {
		t.Fatalf("client %+v", c)
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url string
		want      error // of CheckURL
		policy    error // of Policy{}.CheckURL, when CheckURL accepts
	}{
		{"https", "https://hooks.example.com/whistle?x=1", nil, nil},
		{"http with port", "http://hooks.example.com:8080/", nil, nil},
		{"upper-case scheme", "HTTPS://hooks.example.com/", nil, nil},
		{"public literal IP", "https://93.184.216.34/", nil, nil},
		{"private literal IP", "http://10.0.0.1/", nil, egress.ErrRefused},
		{"literal loopback IPv6", "http://[::1]:8080/", nil, egress.ErrRefused},
		{"mapped literal", "http://[::ffff:169.254.169.254]/", nil, egress.ErrRefused},
		{"a name is left to connect time", "http://localhost/", nil, nil},
		{"ftp", "ftp://example.com/", egress.ErrScheme, nil},
		{"javascript", "javascript:alert(1)", egress.ErrScheme, nil},
		{"no scheme", "example.com/hook", egress.ErrScheme, nil},
		{"no host", "https:///hook", egress.ErrBadURL, nil},
		{"opaque", "https:example.com", egress.ErrBadURL, nil},
		{"userinfo", "https://user:pw@example.com/", egress.ErrBadURL, nil},
		{"control character", "https://example.com/\n", egress.ErrBadURL, nil},
		{"too long", "https://example.com/" + strings.Repeat("a", egress.MaxURLLength), egress.ErrBadURL, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, err := egress.CheckURL(tc.url)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("CheckURL(%q) = %v, %v; want %v", tc.url, u, err, tc.want)
			}
			if tc.want != nil {
				return
			}
			if _, err := (egress.Policy{}).CheckURL(tc.url); !errors.Is(err, tc.policy) || (tc.policy == nil && err != nil) {
				t.Fatalf("Policy{}.CheckURL(%q) = %v; want %v", tc.url, err, tc.policy)
			}
		})
	}
	if _, err := loopback.CheckURL("http://127.0.0.1:8080/"); err != nil {
		t.Fatalf("an allowed literal IP: %v", err)
	}
	var ue *url.URL
	if ue, _ = egress.CheckURL("https://hooks.example.com/a"); ue == nil || ue.Host != "hooks.example.com" {
		t.Fatalf("CheckURL returned %v", ue)
	}
}
