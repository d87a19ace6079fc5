// Package webhook delivers one event to one subscriber: a CloudEvents 1.0
// event in structured JSON mode, signed as Standard Webhooks
// (https://www.standardwebhooks.com) specify, POSTed through an egress
// client, with the outcome classified as delivered, to be retried (and when,
// see Schedule) or failed for good. Queueing, storing attempts and
// dead-lettering are the caller's.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers Send sets and Verify reads.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Secret sizes and form.
const (
	// SecretPrefix starts every secret in its text form.
	SecretPrefix = "whsec_"
	// MinSecretBytes and MaxSecretBytes bound a secret's key, as the
	// specification does.
	MinSecretBytes = 24
	MaxSecretBytes = 64
	// newSecretBytes is the size of the keys NewSecret makes.
	newSecretBytes = 32
	// DefaultTolerance is how far a signature's timestamp may be from now
	// when Verify is given 0.
	DefaultTolerance = 5 * time.Minute
)

var (
	// ErrSecret is wrapped by ParseSecret's errors, and Send fails with it
	// for an empty secret.
	ErrSecret = errors.New("webhook: invalid secret")
	// ErrNoHeaders is wrapped when a signed request lacks one of the three
	// webhook-* headers.
	ErrNoHeaders = errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature")
	// ErrTimestamp is wrapped when the timestamp is unparsable or further
	// than the tolerance from now (a replay, or a badly set clock).
	ErrTimestamp = errors.New("webhook: timestamp outside the tolerance")
	// ErrSignature is wrapped when no signature matches.
	ErrSignature = errors.New("webhook: no matching signature")
)

// NewSecret returns a new random secret in its text form: "whsec_" and the
// standard base64 of 32 random bytes. Its only failure is the system's
// random source failing.
func NewSecret() (string, error) {
	b := make([]byte, newSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook: new secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// ParseSecret returns the key of a secret in its text form: "whsec_" and the
// standard (padded) base64 of 24 to 64 bytes. Errors wrap ErrSecret and never
// contain the secret.
func ParseSecret(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: it does not start with %q", ErrSecret, SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: not standard base64 after %q", ErrSecret, SecretPrefix)
	}
	if len(key) < MinSecretBytes || len(key) > MaxSecretBytes {
		return nil, fmt.Errorf("%w: %d bytes, want %d to %d", ErrSecret, len(key), MinSecretBytes, MaxSecretBytes)
	}
	return key, nil
}

// Sign returns the webhook-signature value of a message: "v1," and the
// standard base64 of HMAC-SHA256(secret, id "." unix-seconds(ts) "." body).
func Sign(secret []byte, id string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(secret, id, ts.Unix(), body))
}

func mac(secret []byte, id string, unix int64, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(id + "." + strconv.FormatInt(unix, 10) + "."))
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a received webhook as a receiver would: the three webhook-*
// headers are present (else ErrNoHeaders), the timestamp is within tolerance
// of now either way (DefaultTolerance when 0 or less; else ErrTimestamp),
// and one of the space-separated signatures is a v1 signature of body under
// secret (compared in constant time; else ErrSignature). Signatures of other
// versions are skipped, so that a sender may offer several.
func Verify(secret []byte, headers http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts, sigs := headers.Get(HeaderID), headers.Get(HeaderTimestamp), headers.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return ErrNoHeaders
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not unix seconds", ErrTimestamp, ts)
	}
	if d := math.Abs(float64(now.Unix() - unix)); d > tolerance.Seconds() {
		return fmt.Errorf("%w: %s is %.0f s from now, at most %s", ErrTimestamp, ts, d, tolerance)
	}
	want := mac(secret, id, unix, body)
	for sig := range strings.FieldsSeq(sigs) {
		v, b64, ok := strings.Cut(sig, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignature
}
