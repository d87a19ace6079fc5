package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/whistle-civic/whistle/pkg/notify"
)

// gotRequest is what the fake gateway saw.
type gotRequest struct {
	auth, contentType string
	body              map[string]string
}

func gateway(t *testing.T, code int) (*httptest.Server, <-chan gotRequest) {
	t.Helper()
	got := make(chan gotRequest, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		got <- gotRequest{r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body}
		// An unhelpful gateway echoes the number in its error.
		http.Error(w, "cannot send to "+body["to"], code)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func TestHTTPGatewayPostsTheNotice(t *testing.T) {
	t.Parallel()
	text := notify.Text(notify.KindResolved, number, code)
	for _, tc := range []struct {
		name  string
		code  int
		token string
		auth  string
		err   error
	}{
		{"200", 200, "s3cret", "Bearer s3cret", nil},
		{"202 without a token", 202, "", "", nil},
		{"500", 500, "s3cret", "Bearer s3cret", notify.ErrStatus},
		{"400", 400, "s3cret", "Bearer s3cret", notify.ErrStatus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, got := gateway(t, tc.code)
			g := notify.HTTPGateway{URL: srv.URL + "/sms", Token: tc.token, Client: srv.Client()}
			err := g.Notify(context.Background(), notify.Notice{Phone: phone, Text: text, TicketNumber: number, Kind: notify.KindResolved})
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("Notify = %v; want %v", err, tc.err)
			}
			if err != nil && (strings.Contains(err.Error(), phone) || !strings.Contains(err.Error(), fmt.Sprint(tc.code))) {
				t.Fatalf("error %q shows the number or lacks the status", err)
			}
			req := <-got
			if req.auth != tc.auth || req.contentType != "application/json" || len(req.body) != 2 ||
				req.body["to"] != phone || req.body["text"] != text {
				t.Fatalf("the gateway got %+v", req)
			}
		})
	}
}

func TestHTTPGatewayErrorsWithoutAnAnswer(t *testing.T) {
	t.Parallel()
	srv, _ := gateway(t, 200)
	srv.Close()
	for _, g := range []notify.HTTPGateway{{URL: srv.URL}, {URL: "::not a url"}} {
		err := g.Notify(context.Background(), notify.Notice{Phone: phone, Text: "x", TicketNumber: number})
		if err == nil || strings.Contains(err.Error(), phone) {
			t.Fatalf("Notify to %s = %v", g.URL, err)
		}
	}
	if err := (notify.HTTPGateway{URL: srv.URL}).Notify(context.Background(), notify.Notice{Text: "x"}); !errors.Is(err, notify.ErrInvalid) {
		t.Fatalf("Notify without a number = %v", err)
	}
}

func TestHTTPGatewayNeverShowsItsToken(t *testing.T) {
	t.Parallel()
	g := notify.HTTPGateway{URL: "https://user:pw@sms.example.com/send", Token: "s3cret-token"}
	var b bytes.Buffer
	slog.New(slog.NewJSONHandler(&b, nil)).Info("gateway", "gateway", g)
	for _, out := range []string{g.String(), fmt.Sprintf("%v", g), fmt.Sprintf("%+v", g), fmt.Sprintf("%#v", g), b.String()} {
		if strings.Contains(out, "s3cret") || strings.Contains(out, ":pw@") || !strings.Contains(out, "sms.example.com") {
			t.Fatalf("shown as %s", out)
		}
	}
}
