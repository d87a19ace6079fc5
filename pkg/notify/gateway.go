package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// ErrStatus is wrapped when the gateway answers other than 2xx; the error
// names the status, never the phone number.
var ErrStatus = errors.New("notify: the SMS gateway refused the notice")

// maxAnswerBytes is how much of the gateway's answer is read (and dropped).
const maxAnswerBytes = 64 << 10

// defaultClient is used when HTTPGateway.Client is nil.
var defaultClient = &http.Client{Timeout: 10 * time.Second}

// HTTPGateway is a Notifier that POSTs each notice to a generic SMS gateway
// as JSON {"to": phone, "text": text}, with "Authorization: Bearer <Token>".
// Any 2xx answer is success. It is safe for concurrent use if its fields are
// not modified.
type HTTPGateway struct {
	// URL is the gateway's endpoint. Required.
	URL string
	// Token is the gateway's bearer token; empty sends no Authorization.
	// String, GoString and LogValue never show it.
	Token string
	// Client makes the calls. It is expected to be an egress.Policy client
	// (pkg/egress), with the gateway's address in WHISTLE_EGRESS_ALLOW if it
	// is a private one; nil means a plain client with a 10 s timeout, which
	// does not restrict addresses.
	Client *http.Client
}

// Notify sends n. It fails wrapping ErrInvalid for a notice without a
// phone number or a text, wrapping ErrStatus when the gateway answers other
// than 2xx, and with the client's error when the call fails. No error
// contains the number or the text.
func (g HTTPGateway) Notify(ctx context.Context, n Notice) error {
	if err := n.validate(); err != nil {
		return err
	}
	body, err := json.Marshal(map[string]string{"to": n.Phone, "text": n.Text})
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("notify: gateway URL: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if g.Token != "" {
		req.Header.Set("Authorization", "Bearer "+g.Token)
	}
	client := g.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("notify: ticket %s: %w", n.TicketNumber, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswerBytes))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%w: ticket %s: %s", ErrStatus, n.TicketNumber, resp.Status)
	}
	return nil
}

// String shows the gateway with its URL's password (if any) and its Token
// masked.
func (g HTTPGateway) String() string {
	return fmt.Sprintf("HTTPGateway{URL:%s Token:%s}", redact(g.URL), maskToken(g.Token))
}

// GoString is String, for fmt's %#v.
func (g HTTPGateway) GoString() string { return g.String() }

// LogValue logs the gateway as String shows it.
func (g HTTPGateway) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", redact(g.URL)), slog.String("token", maskToken(g.Token)))
}

func maskToken(t string) string {
	if t == "" {
		return "(none)"
	}
	return "****"
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}
