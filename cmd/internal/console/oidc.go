package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/egress"
)

// OIDC defaults and bounds.
const (
	// DefaultRolesClaim and DefaultOrgClaim name the ID-token claims that
	// say a user's Whistle roles and org unit.
	DefaultRolesClaim = "whistle_roles"
	DefaultOrgClaim   = "whistle_org"
	// DefaultSessionTTL is how long a token minted at sign-in lives.
	DefaultSessionTTL = 8 * time.Hour
	// LoginTTL bounds a sign-in's round trip through the identity provider:
	// its state, nonce and PKCE verifier are forgotten after it.
	LoginTTL = 10 * time.Minute
	// HandoffTTL bounds the time between the callback and the page picking
	// its token up (POST /session/oidc), which it does at once.
	HandoffTTL = 2 * time.Minute
	// MaxPendingLogins bounds the sign-ins under way at once (each is kept
	// for at most LoginTTL); past it /login answers 503.
	MaxPendingLogins = 10000
	// maxRoles and maxClaimValue bound the roles claim.
	maxRoles      = 16
	maxClaimValue = 64
	// maxCode, maxState bound the callback's parameters.
	maxCode  = 4096
	maxState = 128
	// oidcTimeout bounds each call to the identity provider.
	oidcTimeout = 15 * time.Second
	// maxOIDCBody bounds what the console reads of the provider's answers.
	maxOIDCBody = 1 << 20
	// rediscoverEvery is the least time between two failed discoveries.
	rediscoverEvery = 5 * time.Second
)

// Cookie names: each carries a random value for one round trip, never a
// credential that works anywhere else.
const (
	loginCookie   = "whistle_oidc_login"
	handoffCookie = "whistle_oidc_handoff"
)

// OIDC configures sign-in with the city's identity provider (OpenID
// Connect, authorization code flow with PKCE), after which the console
// mints the user a Whistle token of its own.
type OIDC struct {
	// Issuer is the provider's issuer URL; its
	// /.well-known/openid-configuration is read at the first sign-in.
	// Required.
	Issuer string
	// ClientID is the console's client at the provider. Required.
	ClientID string
	// ClientSecret authenticates the console to the provider's token
	// endpoint. Empty: a public client (PKCE alone).
	ClientSecret string
	// RedirectURL is the console's /login/callback as the browser reaches
	// it, registered with the provider, e.g.
	// https://console.city.example/login/callback. Required.
	RedirectURL string
	// Scopes asked for; "openid" is always among them. Default: openid.
	Scopes []string
	// RolesClaim and OrgClaim name the ID-token claims with the user's
	// roles (a string or an array of strings) and org unit (a string).
	// Default DefaultRolesClaim, DefaultOrgClaim.
	RolesClaim, OrgClaim string
	// Signer mints the users' Whistle tokens; its public key must be in
	// the JWKS the APIs trust. Required.
	Signer *auth.Signer
	// Audience and TokenIssuer are the "aud" and "iss" of minted tokens.
	// Default "whistle" and "whistle-console".
	Audience, TokenIssuer string
	// TTL is how long a minted token lives. Default DefaultSessionTTL;
	// at most auth.DefaultMaxLifetime.
	TTL time.Duration
	// Egress decides which private addresses the console may call besides
	// the issuer's host (which it always may: the operator named it).
	// The zero Policy: public addresses only.
	Egress egress.Policy
	// Clock tells the time (sign-ins' expiry, ID tokens' validity).
	// Default time.Now.
	Clock func() time.Time
}

// withDefaults checks o and fills in its defaults.
func (o OIDC) withDefaults() (OIDC, error) {
	switch {
	case o.Issuer == "":
		return o, errors.New("console: OIDC needs the identity provider's issuer URL")
	case o.ClientID == "":
		return o, errors.New("console: OIDC needs the console's client id at the identity provider")
	case o.Signer == nil:
		return o, errors.New("console: OIDC needs a signing key to mint the users' tokens with")
	}
	iss, err := url.Parse(o.Issuer)
	if err != nil || (iss.Scheme != "https" && iss.Scheme != "http") || iss.Host == "" {
		return o, fmt.Errorf("console: the OIDC issuer %q is not an http(s) URL", o.Issuer)
	}
	ru, err := url.Parse(o.RedirectURL)
	if err != nil || (ru.Scheme != "https" && ru.Scheme != "http") || ru.Host == "" || !strings.HasSuffix(ru.Path, "/login/callback") ||
		ru.RawQuery != "" || ru.Fragment != "" {
		return o, fmt.Errorf("console: the OIDC redirect URL %q must be the console's /login/callback as browsers reach it, "+
			"e.g. https://console.example.org/login/callback", o.RedirectURL)
	}
	if !slices.Contains(o.Scopes, oidc.ScopeOpenID) {
		o.Scopes = append([]string{oidc.ScopeOpenID}, o.Scopes...)
	}
	if o.RolesClaim == "" {
		o.RolesClaim = DefaultRolesClaim
	}
	if o.OrgClaim == "" {
		o.OrgClaim = DefaultOrgClaim
	}
	if o.Audience == "" {
		o.Audience = "whistle"
	}
	if o.TokenIssuer == "" {
		o.TokenIssuer = "whistle-console"
	}
	switch {
	case o.TTL == 0:
		o.TTL = DefaultSessionTTL
	case o.TTL < 0 || o.TTL > auth.DefaultMaxLifetime:
		return o, fmt.Errorf("console: the sign-in token's lifetime %v is not between 0 and %v", o.TTL, auth.DefaultMaxLifetime)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return o, nil
}

// oidcFlow runs the sign-ins: the provider (discovered at first use), the
// sign-ins under way and the tokens waiting for their page.
type oidcFlow struct {
	cfg      OIDC
	secure   bool   // the console is reached over https: cookies are Secure
	base     string // the console's path, e.g. "/" or "/console/"
	client   *http.Client
	pending  *store[pendingLogin]
	handoffs *store[session]

	mu        sync.Mutex // guards what follows; held while discovering
	provider  *oidc.Provider
	oauth     *oauth2.Config
	verifier  *oidc.IDTokenVerifier
	failedAt  time.Time
	failedErr error
}

// pendingLogin is what a sign-in under way keeps until its callback.
type pendingLogin struct {
	nonce, verifier string
	browser         [32]byte // SHA-256 of the login cookie's value
}

// session is what the page gets at the end: a token and who it is for.
type session struct {
	Token     string   `json:"token"`
	Role      string   `json:"role"`
	Roles     []string `json:"roles"`
	OrgUnit   string   `json:"org_unit"`
	Name      string   `json:"name"`
	ExpiresAt string   `json:"expires_at"`
}

func newOIDCFlow(o OIDC) (*oidcFlow, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	ru, _ := url.Parse(o.RedirectURL)
	f := &oidcFlow{cfg: o, secure: ru.Scheme == "https", base: strings.TrimSuffix(ru.Path, "login/callback"),
		client:   oidcClient(o.Issuer, o.Egress),
		pending:  newStore[pendingLogin](MaxPendingLogins, LoginTTL, o.Clock),
		handoffs: newStore[session](MaxPendingLogins, HandoffTTL, o.Clock)}
	return f, nil
}

// discover reads the provider's configuration once; a failure is
// remembered for rediscoverEvery, so a provider that is down is not asked
// by every sign-in.
func (f *oidcFlow) discover(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.provider != nil {
		return f.oauth, f.verifier, nil
	}
	if f.failedErr != nil && f.cfg.Clock().Sub(f.failedAt) < rediscoverEvery {
		return nil, nil, f.failedErr
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, f.client), oidcTimeout)
	defer cancel()
	p, err := oidc.NewProvider(ctx, f.cfg.Issuer)
	if err != nil {
		f.failedAt, f.failedErr = f.cfg.Clock(), err
		return nil, nil, err
	}
	ep := p.Endpoint()
	ep.AuthStyle = authStyle(p, f.cfg.ClientSecret != "")
	f.provider, f.failedErr = p, nil
	f.oauth = &oauth2.Config{ClientID: f.cfg.ClientID, ClientSecret: f.cfg.ClientSecret, Endpoint: ep,
		RedirectURL: f.cfg.RedirectURL, Scopes: f.cfg.Scopes}
	// The key set fetches the provider's JWKS with the console's client.
	f.verifier = p.VerifierContext(oidc.ClientContext(context.Background(), f.client),
		&oidc.Config{ClientID: f.cfg.ClientID, Now: f.cfg.Clock})
	return f.oauth, f.verifier, nil
}

// authStyle is how the console authenticates at the token endpoint: a
// public client names itself in the request; a confidential one sends its
// secret in the Authorization header (client_secret_basic, OpenID
// Connect's default) unless the provider offers only client_secret_post.
// (Not auto-detected: a retry in the other style would hide why the
// first was refused.)
func authStyle(p *oidc.Provider, secret bool) oauth2.AuthStyle {
	if !secret {
		return oauth2.AuthStyleInParams
	}
	var meta struct {
		Methods []string `json:"token_endpoint_auth_methods_supported"`
	}
	_ = p.Claims(&meta)
	if !slices.Contains(meta.Methods, "client_secret_basic") && slices.Contains(meta.Methods, "client_secret_post") {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}
