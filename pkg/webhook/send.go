package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/whistle-civic/whistle/pkg/egress"
)

// Limits of a delivery.
const (
	// DefaultUserAgent is sent when Sender.UserAgent is empty.
	DefaultUserAgent = "Whistle-Webhook/1"
	// MaxResponseBytes is how much of a response body Send reads (and
	// discards) so that the connection can be reused.
	MaxResponseBytes = 64 << 10
	// MaxRetryAfter caps a receiver's Retry-After.
	MaxRetryAfter = time.Hour
)

// Outcome is what a delivery attempt came to.
type Outcome int

const (
	// Retry (the zero Outcome): not delivered this time (a 5xx, 408 or 429 answer, a timeout,
	// a connection error); try again later, see Schedule.
	Retry Outcome = iota
	// Delivered: the receiver answered 2xx.
	Delivered
	// Failed: not delivered and never will be; do not retry. Result.Err
	// wraps one of ErrRejected, ErrRedirect, ErrRefused, ErrInvalid.
	Failed
)

// String returns "retry", "delivered" or "failed".
func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case Failed:
		return "failed"
	}
	return "retry"
}

// The reasons of a Failed delivery, wrapped by Result.Err.
var (
	// ErrRejected: the receiver answered a 4xx other than 408 and 429.
	ErrRejected = errors.New("webhook: the receiver rejected the event")
	// ErrRedirect: a 3xx answer was left after following redirects (no
	// Location, 304, ...), or the redirects looped or led to another scheme.
	ErrRedirect = errors.New("webhook: the receiver redirected where it cannot be followed")
	// ErrRefused: the URL, or a redirect, leads to an address the egress
	// policy refuses (the error also wraps egress.ErrRefused).
	ErrRefused = errors.New("webhook: the receiver's address is refused")
	// ErrInvalid: the URL, the event or the secret is invalid (the error also
	// wraps egress.ErrBadURL, egress.ErrScheme, ErrEvent or ErrSecret).
	ErrInvalid = errors.New("webhook: cannot send")
)

// The reasons of a Retry, wrapped by Result.Err.
var (
	// ErrStatus: the receiver answered 5xx, 408 or 429.
	ErrStatus = errors.New("webhook: the receiver failed")
	// ErrTimeout: the call timed out (the client's timeout or ctx's
	// deadline). Other connection errors are wrapped as they are.
	ErrTimeout = errors.New("webhook: timed out")
)

// Result is what one delivery attempt came to.
type Result struct {
	// Status is the receiver's HTTP status code; 0 when none was received.
	Status int
	// Outcome says whether to retry.
	Outcome Outcome
	// Err is nil when Delivered, and otherwise says why not (see Outcome).
	Err error
	// Took is how long the attempt took.
	Took time.Duration
	// RetryAfter is the receiver's Retry-After (seconds or an HTTP date),
	// capped at MaxRetryAfter; 0 when absent or not a Retry.
	RetryAfter time.Duration
}

// Sender delivers events. Its zero value is usable; it is safe for
// concurrent use if its fields are not modified.
type Sender struct {
	// Client makes the calls. It should be an egress.Policy client; nil
	// means egress.Policy{}.Client(0), shared (private addresses refused,
	// 10 s timeout).
	Client *http.Client
	// Now stamps the signature; nil means time.Now.
	Now func() time.Time
	// UserAgent is sent as User-Agent; empty means DefaultUserAgent.
	UserAgent string
	// Propagator injects ctx's trace context (traceparent, tracestate) into
	// the request headers; nil means otel.GetTextMapPropagator(), which
	// injects nothing unless the process has set one.
	Propagator propagation.TextMapPropagator
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

var defaultClient = sync.OnceValue(func() *http.Client { return egress.Policy{}.Client(0) })

// Send POSTs ev to url in structured mode, signed with secret (the key that
// ParseSecret returns), and classifies the outcome (see Outcome). It reads
// at most MaxResponseBytes of the answer and discards it. It does not retry.
func (s *Sender) Send(ctx context.Context, url string, secret []byte, ev Event) Result {
	start := time.Now()
	req, err := s.request(ctx, url, secret, ev)
	if err != nil {
		return Result{Outcome: Failed, Err: fmt.Errorf("%w: %w", ErrInvalid, err), Took: time.Since(start)}
	}
	client := s.Client
	if client == nil {
		client = defaultClient()
	}
	resp, err := client.Do(req)
	if err != nil {
		r := callFailed(ctx, err)
		r.Took = time.Since(start)
		return r
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseBytes))
	_ = resp.Body.Close()
	r := s.answered(resp)
	r.Took = time.Since(start)
	return r
}

// request builds the signed POST.
func (s *Sender) request(ctx context.Context, url string, secret []byte, ev Event) (*http.Request, error) {
	if len(secret) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrSecret)
	}
	if _, err := egress.CheckURL(url); err != nil {
		return nil, err
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	ua := s.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	ts := s.now()
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("User-Agent", ua)
	req.Header.Set(HeaderID, ev.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(secret, ev.ID, ts, body))
	prop := s.Propagator
	if prop == nil {
		prop = otel.GetTextMapPropagator()
	}
	prop.Inject(ctx, propagation.HeaderCarrier(req.Header))
	return req, nil
}

// callFailed classifies an error from Client.Do: no answer was received.
func callFailed(ctx context.Context, err error) Result {
	switch {
	case errors.Is(err, egress.ErrRefused):
		return Result{Outcome: Failed, Err: fmt.Errorf("%w: %w", ErrRefused, err)}
	case errors.Is(err, egress.ErrTooManyRedirects), errors.Is(err, egress.ErrScheme):
		return Result{Outcome: Failed, Err: fmt.Errorf("%w: %w", ErrRedirect, err)}
	case isTimeout(err) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return Result{Outcome: Retry, Err: fmt.Errorf("%w: %w", ErrTimeout, err)}
	}
	return Result{Outcome: Retry, Err: err}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &t) && t.Timeout())
}

// answered classifies a received answer.
func (s *Sender) answered(resp *http.Response) Result {
	code := resp.StatusCode
	r := Result{Status: code}
	switch {
	case code >= 200 && code < 300:
		r.Outcome = Delivered
	case code >= 500 || code == http.StatusRequestTimeout || code == http.StatusTooManyRequests:
		r.Outcome = Retry
		r.Err = fmt.Errorf("%w: %s", ErrStatus, resp.Status)
		r.RetryAfter = s.retryAfter(resp.Header.Get("Retry-After"))
	case code >= 300 && code < 400:
		r.Outcome = Failed
		r.Err = fmt.Errorf("%w: %s", ErrRedirect, resp.Status)
	default:
		r.Outcome = Failed
		r.Err = fmt.Errorf("%w: %s", ErrRejected, resp.Status)
	}
	return r
}

// retryAfter parses a Retry-After value: delay-seconds or an HTTP date, capped
// at MaxRetryAfter; 0 when absent, invalid or in the past.
func (s *Sender) retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(max(n, 0), int64(MaxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = max(t.Sub(s.now()), 0)
	}
	return min(d, MaxRetryAfter)
}
