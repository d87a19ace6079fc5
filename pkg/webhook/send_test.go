package webhook_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/whistle-civic/whistle/pkg/egress"
	"github.com/whistle-civic/whistle/pkg/webhook"
)

// loopback allows exactly 127.0.0.1, where httptest servers listen.
var loopback = egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}

// received is what a receiver saw of one request.
type received struct {
	header http.Header
	body   []byte
	verify error
}

// receiver starts a server that verifies each request's signature with key
// (answering 401 when it fails), records it, and then calls h.
func receiver(t *testing.T, key []byte, h http.HandlerFunc) (*httptest.Server, <-chan received) {
	t.Helper()
	got := make(chan received, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		err := webhook.Verify(key, r.Header, body, time.Now(), 0)
		got <- received{r.Header.Clone(), body, err}
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func status(code int, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
	}
}

func secret(t *testing.T) []byte {
	t.Helper()
	s, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	key, err := webhook.ParseSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestSendDeliversASignedStructuredEvent(t *testing.T) {
	t.Parallel()
	key := secret(t)
	srv, got := receiver(t, key, status(http.StatusOK))
	s := &webhook.Sender{Client: loopback.Client(0), UserAgent: "whistle-test"}
	r := s.Send(context.Background(), srv.URL+"/hook", key, sampleEvent())
	if r.Outcome != webhook.Delivered || r.Status != 200 || r.Err != nil || r.Took <= 0 {
		t.Fatalf("Send = %+v", r)
	}
	req := <-got
	var ev webhook.Event
	if err := ev.UnmarshalJSON(req.body); err != nil {
		t.Fatal(err)
	}
	switch {
	case req.verify != nil:
		t.Fatalf("Verify: %v", req.verify)
	case req.header.Get("Content-Type") != webhook.ContentType || req.header.Get("User-Agent") != "whistle-test":
		t.Fatalf("headers %v", req.header)
	case req.header.Get(webhook.HeaderID) != sampleEvent().ID || ev.ID != sampleEvent().ID:
		t.Fatalf("webhook-id %q, event %+v", req.header.Get(webhook.HeaderID), ev)
	}
}

func TestSendClassifiesTheAnswer(t *testing.T) {
	t.Parallel()
	key := secret(t)
	now := time.Now().Truncate(time.Second) // HTTP dates have seconds
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		secret     []byte        // default key
		skew       time.Duration // of the sender's clock
		outcome    webhook.Outcome
		status     int
		err        error
		retryAfter time.Duration
	}{
		{"200", status(200), nil, 0, webhook.Delivered, 200, nil, 0},
		{"204", status(204), nil, 0, webhook.Delivered, 204, nil, 0},
		{"500", status(500), nil, 0, webhook.Retry, 500, webhook.ErrStatus, 0},
		{"503 with Retry-After", status(503, "Retry-After", "7"), nil, 0, webhook.Retry, 503, webhook.ErrStatus, 7 * time.Second},
		{"429 with a date", status(429, "Retry-After", now.Add(90*time.Second).UTC().Format(http.TimeFormat)),
			nil, 0, webhook.Retry, 429, webhook.ErrStatus, 90 * time.Second},
		{"Retry-After capped", status(503, "Retry-After", "86400"), nil, 0, webhook.Retry, 503, webhook.ErrStatus, webhook.MaxRetryAfter},
		{"Retry-After invalid", status(503, "Retry-After", "soon"), nil, 0, webhook.Retry, 503, webhook.ErrStatus, 0},
		{"408", status(408), nil, 0, webhook.Retry, 408, webhook.ErrStatus, 0},
		{"410", status(410), nil, 0, webhook.Failed, 410, webhook.ErrRejected, 0},
		{"400 ignores Retry-After", status(400, "Retry-After", "7"), nil, 0, webhook.Failed, 400, webhook.ErrRejected, 0},
		{"wrong secret", status(200), secret(t), 0, webhook.Failed, 401, webhook.ErrRejected, 0},
		{"old timestamp", status(200), nil, -10 * time.Minute, webhook.Failed, 401, webhook.ErrRejected, 0},
		{"302 without Location", status(302), nil, 0, webhook.Failed, 302, webhook.ErrRedirect, 0},
		{"304", status(304), nil, 0, webhook.Failed, 304, webhook.ErrRedirect, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := receiver(t, key, tc.handler)
			k := key
			if tc.secret != nil {
				k = tc.secret
			}
			s := &webhook.Sender{Client: loopback.Client(0), Now: func() time.Time { return now.Add(tc.skew) }}
			r := s.Send(context.Background(), srv.URL, k, sampleEvent())
			if r.Outcome != tc.outcome || r.Status != tc.status || !errors.Is(r.Err, tc.err) ||
				(tc.err == nil && r.Err != nil) || r.RetryAfter != tc.retryAfter {
				t.Fatalf("Send = %+v (%s); want %s %d %v, Retry-After %s", r, r.Outcome, tc.outcome, tc.status, tc.err, tc.retryAfter)
			}
		})
	}
}

func TestSendRetriesWhenNoAnswerComes(t *testing.T) {
	t.Parallel()
	key := secret(t)
	hang, _ := receiver(t, key, func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/"
	_ = l.Close()
	tests := []struct {
		name, url string
		timeout   bool
	}{
		{"a receiver that hangs", hang.URL, true},
		{"nothing listening", closed, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &webhook.Sender{Client: loopback.Client(200 * time.Millisecond)}
			r := s.Send(context.Background(), tc.url, key, sampleEvent())
			if r.Outcome != webhook.Retry || r.Status != 0 || r.Err == nil || errors.Is(r.Err, webhook.ErrTimeout) != tc.timeout {
				t.Fatalf("Send = %+v; want a Retry, timeout %v", r, tc.timeout)
			}
		})
	}
}

func TestSendFailsForGoodWhatCanNeverBeDelivered(t *testing.T) {
	t.Parallel()
	key := secret(t)
	srv, _ := receiver(t, key, status(200))
	toPrivate, _ := receiver(t, key, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://10.0.0.1/hook", http.StatusTemporaryRedirect)
	})
	bad := sampleEvent()
	bad.Extensions = map[string]string{"Bad-Name": "x"}
	tests := []struct {
		name   string
		client *http.Client
		url    string
		secret []byte
		ev     webhook.Event
		err    error
	}{
		{"loopback refused", egress.Policy{}.Client(0), srv.URL, key, sampleEvent(), webhook.ErrRefused},
		{"the default client refuses loopback", nil, srv.URL, key, sampleEvent(), webhook.ErrRefused},
		{"redirect to a private address", loopback.Client(0), toPrivate.URL, key, sampleEvent(), webhook.ErrRefused},
		{"another scheme", loopback.Client(0), "ftp://127.0.0.1/", key, sampleEvent(), webhook.ErrInvalid},
		{"an invalid URL", loopback.Client(0), "http://", key, sampleEvent(), webhook.ErrInvalid},
		{"no secret", loopback.Client(0), srv.URL, nil, sampleEvent(), webhook.ErrInvalid},
		{"an invalid event", loopback.Client(0), srv.URL, key, bad, webhook.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := (&webhook.Sender{Client: tc.client}).Send(context.Background(), tc.url, tc.secret, tc.ev)
			if r.Outcome != webhook.Failed || !errors.Is(r.Err, tc.err) {
				t.Fatalf("Send = %+v; want Failed with %v", r, tc.err)
			}
			if tc.err == webhook.ErrRefused && !errors.Is(r.Err, egress.ErrRefused) {
				t.Fatalf("%v does not wrap egress.ErrRefused", r.Err)
			}
		})
	}
}

func TestSendContinuesTheTraceOfCtx(t *testing.T) {
	t.Parallel()
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("webhook_test").Start(context.Background(), "deliver")
	defer span.End()
	key := secret(t)
	srv, got := receiver(t, key, status(200))
	prop := propagation.TraceContext{}
	s := &webhook.Sender{Client: loopback.Client(0), Propagator: prop}
	if r := s.Send(ctx, srv.URL, key, sampleEvent()); r.Outcome != webhook.Delivered {
		t.Fatalf("Send = %+v", r)
	}
	req := <-got
	remote := oteltrace.SpanContextFromContext(prop.Extract(context.Background(), propagation.HeaderCarrier(req.header)))
	want := span.SpanContext()
	if !remote.IsValid() || remote.TraceID() != want.TraceID() || remote.SpanID() != want.SpanID() {
		t.Fatalf("traceparent %q; want the span %s/%s", req.header.Get("traceparent"), want.TraceID(), want.SpanID())
	}
}

func TestOutcomeStrings(t *testing.T) {
	t.Parallel()
	for o, want := range map[webhook.Outcome]string{webhook.Retry: "retry", webhook.Delivered: "delivered", webhook.Failed: "failed"} {
		if o.String() != want {
			t.Errorf("%d.String() = %q; want %q", int(o), o.String(), want)
		}
	}
}
