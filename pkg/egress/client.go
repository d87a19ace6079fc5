package egress

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Limits of the client Policy.Client returns.
const (
	// DefaultTimeout bounds a whole call (connect, redirects, headers and
	// reading the body) when Client is given 0.
	DefaultTimeout = 10 * time.Second
	// MaxRedirects is how many redirects a call follows before it fails with
	// ErrTooManyRedirects.
	MaxRedirects = 5
	// MaxURLLength is the longest URL CheckURL accepts, in bytes.
	MaxURLLength = 2048
	// dialTimeout and tlsTimeout bound connecting and the TLS handshake, at
	// most the call's timeout.
	dialTimeout = 5 * time.Second
	tlsTimeout  = 5 * time.Second
)

var (
	// ErrScheme is wrapped when a URL, or a redirect's target, is neither
	// http nor https.
	ErrScheme = errors.New("egress: only http and https URLs are allowed")
	// ErrTooManyRedirects is wrapped when a call would follow more than
	// MaxRedirects redirects.
	ErrTooManyRedirects = errors.New("egress: too many redirects")
	// ErrBadURL is wrapped by CheckURL's errors.
	ErrBadURL = errors.New("egress: invalid URL")
)

// Client returns an HTTP client that connects only to addresses p allows:
// every address a host name resolves to, on every redirect hop, is checked
// with Check just before the connection is made, and a refused one fails
// the call with an error wrapping ErrRefused (inside a *url.Error). The
// client ignores HTTP_PROXY and friends (a proxy would connect on its behalf,
// unchecked), refuses schemes other than http and https (ErrScheme), follows
// at most MaxRedirects redirects (ErrTooManyRedirects) and gives up on a call
// after timeout (DefaultTimeout when 0 or less), which also bounds waiting
// for response headers. Reuse one client: it keeps idle connections.
func (p Policy) Client(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &http.Client{
		Transport:     schemeCheck{p.Transport(timeout)},
		CheckRedirect: checkRedirect,
		Timeout:       timeout,
	}
}

// Transport returns the transport of Client(timeout): its dialer checks each
// address with Check before connecting, its Proxy is nil, and it bounds
// connecting, the TLS handshake and waiting for response headers, and keeps
// a few idle connections per host. It does not check schemes or redirects;
// prefer Client.
func (p Policy) Transport(timeout time.Duration) *http.Transport {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	d := &net.Dialer{
		Timeout:   min(dialTimeout, timeout),
		KeepAlive: 30 * time.Second,
		Control:   p.control,
	}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    min(tlsTimeout, timeout),
		ResponseHeaderTimeout:  timeout,
		ExpectContinueTimeout:  time.Second,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// control is the dialer's hook, called with the resolved address for every
// connection attempt (each DNS answer in turn) before it connects.
func (p Policy) control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("%w: network %s to %s", ErrRefused, network, address)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address %q: %v", ErrRefused, address, err)
	}
	return p.Check(ap.Addr())
}

// checkRedirect refuses a redirect that is not http or https, or one past
// MaxRedirects. (Its target's address is checked when connecting.)
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > MaxRedirects {
		return fmt.Errorf("%w: stopped after %d", ErrTooManyRedirects, MaxRedirects)
	}
	return checkScheme(req.URL)
}

func checkScheme(u *url.URL) error {
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return fmt.Errorf("%w, not %q", ErrScheme, u.Scheme)
	}
	return nil
}

// schemeCheck refuses non-http(s) requests before they reach the transport.
type schemeCheck struct{ t *http.Transport }

func (s schemeCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := checkScheme(req.URL); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	return s.t.RoundTrip(req)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport.
func (s schemeCheck) CloseIdleConnections() { s.t.CloseIdleConnections() }

// CheckURL validates a URL before it is stored (a subscriber's endpoint,
// say): at most MaxURLLength bytes, scheme http or https, a host, no
// user:password part. It does not resolve the host nor check its address:
// the client does that at connect time (see Policy.CheckURL for literal
// IPs). Errors wrap ErrBadURL, or ErrScheme for a wrong scheme.
func CheckURL(raw string) (*url.URL, error) {
	if len(raw) > MaxURLLength {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrBadURL, len(raw), MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	if err := checkScheme(u); err != nil {
		return nil, err
	}
	switch {
	case u.Opaque != "" || u.Hostname() == "":
		return nil, fmt.Errorf("%w: %q has no host", ErrBadURL, raw)
	case u.User != nil:
		return nil, fmt.Errorf("%w: credentials in a URL are not allowed", ErrBadURL)
	}
	return u, nil
}

// CheckURL is the package's CheckURL, which also refuses a host written as
// a literal IP address that p refuses (an error wrapping ErrRefused), so that
// an obviously private URL is turned away when it is stored rather than at
// each call. Host names are left to the client's connect-time check.
func (p Policy) CheckURL(raw string) (*url.URL, error) {
	u, err := CheckURL(raw)
	if err != nil {
		return nil, err
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil {
		if err := p.Check(ip); err != nil {
			return nil, err
		}
	}
	return u, nil
}
