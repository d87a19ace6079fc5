package webhook_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/webhook"
)

// The Standard Webhooks specification's example.
const (
	specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTS     = 1614265330
	specBody   = `{"test": 2432232314}`
	specSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesTheSpecificationsExample(t *testing.T) {
	t.Parallel()
	key, err := webhook.ParseSecret(specSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := webhook.Sign(key, specID, time.Unix(specTS, 0), []byte(specBody)); got != specSig {
		t.Fatalf("Sign = %s; want %s", got, specSig)
	}
}

func TestNewSecretsParseAndDiffer(t *testing.T) {
	t.Parallel()
	a, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := webhook.NewSecret()
	ka, err := webhook.ParseSecret(a)
	if err != nil || a == b || !strings.HasPrefix(a, webhook.SecretPrefix) || len(ka) < webhook.MinSecretBytes {
		t.Fatalf("secrets %q, %q: key of %d bytes, %v", a, b, len(ka), err)
	}
}

func TestParseSecretRefusesMalformedSecrets(t *testing.T) {
	t.Parallel()
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	for _, tc := range []struct {
		name, secret string
		ok           bool
	}{
		{"24 bytes", "whsec_" + b64(24), true},
		{"64 bytes", "whsec_" + b64(64), true},
		{"no prefix", b64(32), false},
		{"23 bytes", "whsec_" + b64(23), false},
		{"65 bytes", "whsec_" + b64(65), false},
		{"not base64", "whsec_!!!!" + b64(30), false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := webhook.ParseSecret(tc.secret)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, webhook.ErrSecret)) {
				t.Fatalf("ParseSecret = %v; want ok %v", err, tc.ok)
			}
			if err != nil && len(tc.secret) > 10 && strings.Contains(err.Error(), tc.secret[6:]) {
				t.Fatalf("the error %q shows the secret", err)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	key, _ := webhook.ParseSecret(specSecret)
	other, _ := webhook.ParseSecret("whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 32)))
	signedAt := time.Unix(specTS, 0)
	headers := func(id string, ts time.Time, sig string) http.Header {
		h := http.Header{}
		h.Set(webhook.HeaderID, id)
		h.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
		h.Set(webhook.HeaderSignature, sig)
		return h
	}
	good := headers(specID, signedAt, specSig)
	tests := []struct {
		name    string
		secret  []byte
		headers http.Header
		body    string
		now     time.Time
		tol     time.Duration
		want    error
	}{
		{"valid", key, good, specBody, signedAt.Add(time.Minute), 0, nil},
		{"tampered body", key, good, `{"test": 2432232315}`, signedAt, 0, webhook.ErrSignature},
		{"wrong secret", other, good, specBody, signedAt, 0, webhook.ErrSignature},
		{"another id", key, headers("msg_other", signedAt, specSig), specBody, signedAt, 0, webhook.ErrSignature},
		{"old timestamp", key, good, specBody, signedAt.Add(6 * time.Minute), 0, webhook.ErrTimestamp},
		{"future timestamp", key, good, specBody, signedAt.Add(-6 * time.Minute), 0, webhook.ErrTimestamp},
		{"old but within a longer tolerance", key, good, specBody, signedAt.Add(6 * time.Minute), 10 * time.Minute, nil},
		{"timestamp not a number", key, func() http.Header {
			h := good.Clone()
			h.Set(webhook.HeaderTimestamp, "yesterday")
			return h
		}(), specBody, signedAt, 0, webhook.ErrTimestamp},
		{"several signatures, one valid", key, headers(specID, signedAt, "v1,AAAA v2,xyz "+specSig), specBody, signedAt, 0, nil},
		{"only other versions", key, headers(specID, signedAt, "v1a,"+specSig[3:]), specBody, signedAt, 0, webhook.ErrSignature},
		{"not base64", key, headers(specID, signedAt, "v1,%%%"), specBody, signedAt, 0, webhook.ErrSignature},
		{"no headers", key, http.Header{}, specBody, signedAt, 0, webhook.ErrNoHeaders},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := webhook.Verify(tc.secret, tc.headers, []byte(tc.body), tc.now, tc.tol)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Verify = %v; want %v", err, tc.want)
			}
		})
	}
}
