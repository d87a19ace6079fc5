package console

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/whistle-civic/whistle/pkg/egress"
)

// oidcClient is the HTTP client the console calls the provider with: it
// may connect to the issuer's host (named by the operator, so allowed
// wherever it is) and otherwise only where the egress policy allows (so a
// discovery document naming a private address is not followed there); it
// ignores proxy variables, bounds each call and reads at most 1 MiB of an
// answer.
func oidcClient(issuer string, policy egress.Policy) *http.Client {
	u, _ := url.Parse(issuer)
	issuerAddr := hostPort(u)
	t := policy.Transport(oidcTimeout)
	checked := t.DialContext
	direct := (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if strings.EqualFold(addr, issuerAddr) {
			return direct(ctx, network, addr)
		}
		return checked(ctx, network, addr)
	}
	return &http.Client{Transport: limitedBody{t}, Timeout: oidcTimeout, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= egress.MaxRedirects {
			return egress.ErrTooManyRedirects
		}
		if req.URL.Scheme != "https" && req.URL.Scheme != "http" {
			return egress.ErrScheme
		}
		return nil
	}}
}

// hostPort is a URL's host:port, with the scheme's default port.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := "443"
	if u.Scheme == "http" {
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// limitedBody reads at most maxOIDCBody of each answer.
type limitedBody struct{ rt http.RoundTripper }

func (l limitedBody) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && req.URL.Scheme != "http" {
		return nil, egress.ErrScheme
	}
	resp, err := l.rt.RoundTrip(req)
	if err == nil {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(resp.Body, maxOIDCBody), resp.Body}
	}
	return resp, err
}
