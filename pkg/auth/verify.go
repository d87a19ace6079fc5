package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Verifier defaults and limits.
const (
	// DefaultLeeway is how far the clocks of issuer and server may disagree.
	DefaultLeeway = 30 * time.Second
	// DefaultRefresh is how often the JWKS is re-read.
	DefaultRefresh = 5 * time.Minute
	// MinRefetch is the least time between two reads of the JWKS caused by
	// tokens naming an unknown kid or by a failed refresh.
	MinRefetch = 10 * time.Second
	// DefaultMaxLifetime is the longest a token may be valid, from its "iat"
	// (or from now, when it has none) to its "exp".
	DefaultMaxLifetime = 24 * time.Hour
	// fetchTimeout bounds a refresh that a token triggers.
	fetchTimeout = 10 * time.Second
)

// VerifierConfig configures a Verifier. Set exactly one of JWKSFile and
// JWKSURL, and Audience.
type VerifierConfig struct {
	// JWKSFile is the path of a JWKS file with the public keys that sign tokens.
	JWKSFile string
	// JWKSURL is an http or https URL that serves the JWKS.
	JWKSURL string
	// Issuer, when set, must equal the token's "iss". Default: not checked.
	Issuer string
	// Audience must be among the token's "aud", e.g. "whistle". Required.
	Audience string
	// Leeway is how far "exp", "nbf" and "iat" may be off. Default (zero):
	// DefaultLeeway (30 s); negative is an error.
	Leeway time.Duration
	// MaxLifetime is the longest a token may be valid: "exp" minus "iat"
	// (minus now, when it has no "iat"), beyond the leeway. A longer-lived
	// token is refused, however it was signed, so that a leaked token is
	// useful for a bounded time. Default (zero): DefaultMaxLifetime (24 h);
	// negative is an error.
	MaxLifetime time.Duration
	// Refresh is how often the JWKS is re-read, so added keys start and
	// removed keys stop verifying. Default (zero): DefaultRefresh (5 min).
	// A token with an unknown kid also re-reads it, at most once per
	// MinRefetch (10 s).
	Refresh time.Duration
	// HTTPClient fetches JWKSURL. Default: a client with a 5 s timeout.
	HTTPClient *http.Client
	// Clock tells the time. Default: time.Now.
	Clock func() time.Time
	// Log receives failed refreshes (the keys loaded before stay in force).
	// Default: discard.
	Log *slog.Logger
}

// Verifier checks bearer tokens: JWTs signed with EdDSA (Ed25519), ES256 or
// ES384 by a key of the JWKS, for the configured audience, within their
// validity period, carrying a subject, an org unit and known roles. It is
// safe for concurrent use.
type Verifier struct {
	cfg    VerifierConfig
	source string // the JWKS file or URL, for messages
	keys   atomic.Pointer[map[string]verifyKey]
	// verified caches signatures checked with the current keys.
	verified verified

	mu   sync.Mutex // serialises reads of the JWKS; guards next and last
	next time.Time  // when the periodic re-read is due
	last time.Time  // when the JWKS was last read, successfully or not
}

// NewVerifier checks cfg, fills in defaults and reads the JWKS once, with
// ctx; a JWKS that cannot be read or has no usable key is an error.
func NewVerifier(ctx context.Context, cfg VerifierConfig) (*Verifier, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	v := &Verifier{cfg: cfg, source: cfg.JWKSFile}
	if cfg.JWKSURL != "" {
		v.source = cfg.JWKSURL
	}
	if err := v.Refresh(ctx); err != nil {
		return nil, err
	}
	return v, nil
}

// defaults checks the configuration and fills in defaults.
func (c *VerifierConfig) defaults() error {
	switch {
	case (c.JWKSFile == "") == (c.JWKSURL == ""):
		return errors.New("token verifier: set exactly one of the JWKS file and the JWKS URL")
	case c.Audience == "":
		return errors.New(`token verifier: set the audience tokens must carry, e.g. "whistle"`)
	case c.Leeway < 0 || c.Refresh < 0 || c.MaxLifetime < 0:
		return errors.New("token verifier: leeway, refresh period and maximum lifetime must not be negative")
	}
	if c.JWKSURL != "" {
		if u, err := url.Parse(c.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("token verifier: JWKS URL %q is not an http(s) URL", c.JWKSURL)
		}
	}
	if c.Leeway == 0 {
		c.Leeway = DefaultLeeway
	}
	if c.Refresh == 0 {
		c.Refresh = DefaultRefresh
	}
	if c.MaxLifetime == 0 {
		c.MaxLifetime = DefaultMaxLifetime
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Refresh re-reads the JWKS now. On failure the keys loaded before stay in
// force and the error says what went wrong.
func (v *Verifier) Refresh(ctx context.Context) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.reloadLocked(ctx)
}

// reloadLocked reads the JWKS; v.mu must be held.
func (v *Verifier) reloadLocked(ctx context.Context) error {
	now := v.cfg.Clock()
	v.last = now
	v.next = now.Add(MinRefetch) // retry soon if this read fails
	var data []byte
	var err error
	if v.cfg.JWKSURL != "" {
		data, err = fetchJWKS(ctx, v.cfg.HTTPClient, v.cfg.JWKSURL)
	} else {
		data, err = readJWKSFile(v.cfg.JWKSFile)
	}
	if err != nil {
		return fmt.Errorf("read JWKS %s: %w: check that it exists and is reachable", v.source, err)
	}
	keys, err := parseJWKS(data)
	if err != nil {
		return fmt.Errorf("JWKS %s: %w", v.source, err)
	}
	v.keys.Store(&keys)
	v.next = now.Add(v.cfg.Refresh)
	return nil
}

// reloadForToken re-reads the JWKS on behalf of a token; v.mu must be held.
// A failure is logged: the keys loaded before stay in force.
func (v *Verifier) reloadForToken() {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	if err := v.reloadLocked(ctx); err != nil {
		v.cfg.Log.Warn("JWKS refresh failed; the keys read before stay in force", "err", err)
	}
}

// refreshIfDue re-reads the JWKS when the refresh period has passed, unless
// another goroutine is reading it already.
func (v *Verifier) refreshIfDue() {
	if !v.mu.TryLock() {
		return
	}
	defer v.mu.Unlock()
	if v.cfg.Clock().Before(v.next) {
		return
	}
	v.reloadForToken()
}

// lookup returns the key with kid; an unknown kid re-reads the JWKS, at most
// once per MinRefetch, in case the key was added since.
func (v *Verifier) lookup(kid string) (verifyKey, bool) {
	if k, ok := (*v.keys.Load())[kid]; ok {
		return k, true
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if k, ok := (*v.keys.Load())[kid]; ok { // read meanwhile by another goroutine
		return k, true
	}
	if v.cfg.Clock().Sub(v.last) < MinRefetch {
		return verifyKey{}, false
	}
	v.reloadForToken()
	k, ok := (*v.keys.Load())[kid]
	return k, ok
}
