package console

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// login is GET /login: a new sign-in, sent to the provider.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	f := c.oidc
	if f == nil {
		c.signInPage(w, r, pageNotConfigured())
		return
	}
	oc, _, err := f.discover(r.Context())
	if err != nil {
		c.cfg.Log.WarnContext(r.Context(), "console sign-in: the identity provider's configuration could not be read",
			"issuer", f.cfg.Issuer, "err", err)
		c.signInPage(w, r, pageProviderDown(f.cfg.Issuer))
		return
	}
	state, nonce, browser := randomToken(), randomToken(), randomToken()
	verifier := oauth2.GenerateVerifier()
	if !f.pending.put(state, pendingLogin{nonce: nonce, verifier: verifier, browser: sha256.Sum256([]byte(browser))}) {
		c.cfg.Log.WarnContext(r.Context(), "console sign-in: too many sign-ins under way", "max", MaxPendingLogins)
		c.signInPage(w, r, pageBusy())
		return
	}
	http.SetCookie(w, f.cookie(loginCookie, browser, "login", LoginTTL))
	http.Redirect(w, r, oc.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)), http.StatusFound)
}

// cookie is an HttpOnly, SameSite=Lax cookie for path (under the
// console's own), Secure when the console is reached over https.
func (f *oidcFlow) cookie(name, value, path string, ttl time.Duration) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: f.base + path, MaxAge: int(ttl / time.Second), HttpOnly: true,
		Secure: f.secure, SameSite: http.SameSiteLaxMode}
}

// callback is GET /login/callback: the provider sends the browser back
// with a code. The sign-in must be one this browser started (its state,
// once, within LoginTTL, with its cookie); the code is exchanged with the
// PKCE verifier; the ID token must verify (issuer, audience, expiry,
// signature) and carry the nonce; its claims must name known roles and
// an org unit of the catalog. Then a Whistle token is minted and kept for
// the page to pick up once (POST /session/oidc).
func (c *Console) callback(w http.ResponseWriter, r *http.Request) {
	f := c.oidc
	if f == nil {
		c.signInPage(w, r, pageNotConfigured())
		return
	}
	http.SetCookie(w, f.cookie(loginCookie, "", "login", -time.Second)) // used once, whatever happens
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" || len(state) > maxState {
		c.refused(w, r, "no or malformed state", pageBadState())
		return
	}
	p, ok := f.pending.take(state)
	if !ok {
		c.refused(w, r, "unknown, expired or used state", pageBadState())
		return
	}
	cookie, err := r.Cookie(loginCookie)
	if err != nil || !sameHash(p.browser, cookie.Value) {
		c.refused(w, r, "state of another browser", pageOtherBrowser())
		return
	}
	if e := q.Get("error"); e != "" {
		c.refused(w, r, "the identity provider refused: "+clip(e, 64), pageProviderRefused(clip(e, 64), clip(q.Get("error_description"), 200)))
		return
	}
	code := q.Get("code")
	if code == "" || len(code) > maxCode {
		c.refused(w, r, "no or malformed code", pageBadState())
		return
	}
	oc, verifier, err := f.discover(r.Context())
	if err != nil {
		c.signInPage(w, r, pageProviderDown(f.cfg.Issuer))
		return
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(r.Context(), f.client), oidcTimeout)
	defer cancel()
	tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(p.verifier))
	if err != nil {
		reason := "the token endpoint did not answer"
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			reason = "the token endpoint refused: " + clip(re.ErrorCode, 64)
		}
		c.refused(w, r, reason, pageExchangeFailed())
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		c.refused(w, r, "no ID token in the answer (is the openid scope allowed for the client?)", pageNoIDToken())
		return
	}
	id, err := f.checkIDToken(ctx, verifier, raw, p.nonce)
	if err != nil {
		c.refused(w, r, "ID token refused: "+err.Error(), pageBadIDToken())
		return
	}
	var claims map[string]json.RawMessage
	if err := id.Claims(&claims); err != nil {
		c.refused(w, r, "the ID token's claims are not a JSON object", pageBadIDToken())
		return
	}
	who, refusal := f.principal(id.Subject, claims)
	if refusal != nil {
		c.refused(w, r, "no Whistle principal for the account", *refusal)
		return
	}
	s, err := f.mint(who)
	if err != nil {
		c.cfg.Log.ErrorContext(r.Context(), "console sign-in: the token could not be minted", "err", err)
		c.signInPage(w, r, pageMintFailed())
		return
	}
	if refusal := c.checkOrgUnit(r.Context(), s); refusal != nil {
		reason := "the org unit is not in the catalog"
		if refusal.Status == http.StatusServiceUnavailable {
			reason = "the catalog could not be read"
		}
		c.refused(w, r, reason, *refusal)
		return
	}
	handoff := randomToken()
	if !f.handoffs.put(handoff, s) {
		c.signInPage(w, r, pageBusy())
		return
	}
	c.cfg.Log.InfoContext(r.Context(), "console sign-in", "subject", who.Subject, "roles", who.Roles, "org_unit", who.OrgUnit, "via", "oidc")
	http.SetCookie(w, f.cookie(handoffCookie, handoff, "session/oidc", HandoffTTL))
	// Back to the page, which picks its token up: "../" is the console's
	// own path from /login/callback; the fragment is no secret.
	http.Redirect(w, r, "../#/login/oidc", http.StatusSeeOther)
}

// checkIDToken verifies an ID token (signature by the provider's keys,
// issuer, audience = the client id, and the authorized party when there
// are several audiences, expiry) and its nonce.
func (f *oidcFlow) checkIDToken(ctx context.Context, v *oidc.IDTokenVerifier, raw, nonce string) (*oidc.IDToken, error) {
	id, err := v.Verify(ctx, raw)
	if err != nil {
		var exp *oidc.TokenExpiredError
		if errors.As(err, &exp) {
			return nil, fmt.Errorf("expired at %s (check the clocks of the console and the identity provider)", exp.Expiry.UTC().Format(time.RFC3339))
		}
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(id.Nonce), []byte(nonce)) != 1 {
		return nil, errors.New("its nonce is not this sign-in's")
	}
	if len(id.Audience) > 1 {
		var c struct {
			AZP string `json:"azp"`
		}
		if err := id.Claims(&c); err != nil || c.AZP != f.cfg.ClientID {
			return nil, fmt.Errorf("issued to %q, not to this console (%q)", clip(c.AZP, 64), f.cfg.ClientID)
		}
	}
	return id, nil
}

// principal maps a verified ID token to a Whistle principal: the subject,
// the known roles its roles claim names (the resident's and other systems'
// are no console users) and the org unit its org claim names. Nothing
// else (and nothing from the browser) decides who the user is.
func (f *oidcFlow) principal(sub string, claims map[string]json.RawMessage) (auth.Principal, *signInError) {
	subject := actorID(sub)
	var names []string
	switch raw := claims[f.cfg.RolesClaim]; {
	case len(raw) == 0 || string(raw) == "null":
	case raw[0] == '"':
		var s string
		_ = json.Unmarshal(raw, &s)
		names = strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	default:
		if json.Unmarshal(raw, &names) != nil {
			return auth.Principal{}, new(pageNoRole(f.cfg.RolesClaim, subject))
		}
	}
	if len(names) > maxRoles {
		return auth.Principal{}, new(pageNoRole(f.cfg.RolesClaim, subject))
	}
	var roles []auth.Role
	for _, n := range names {
		r, err := auth.ParseRole(n)
		if err != nil || len(n) > maxClaimValue || r == auth.RoleResident || r == auth.RoleSystem || slices.Contains(roles, r) {
			continue
		}
		roles = append(roles, r)
	}
	if len(roles) == 0 {
		return auth.Principal{}, new(pageNoRole(f.cfg.RolesClaim, subject))
	}
	var org string
	if raw := claims[f.cfg.OrgClaim]; len(raw) == 0 || json.Unmarshal(raw, &org) != nil || !orgUnitPattern.MatchString(org) || len(org) > auth.MaxOrgUnitLen {
		return auth.Principal{}, new(pageNoOrgUnit(f.cfg.OrgClaim, subject, clip(org, 64)))
	}
	return auth.Principal{Subject: subject, OrgUnit: org, Roles: roles, Via: "oidc"}, nil
}

// orgUnitPattern is the APIs' pattern of an org unit id.
var orgUnitPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// actorPattern is the APIs' pattern of an actor id, which the page uses
// the subject as.
var actorPattern = regexp.MustCompile(`^[\x21-\x7e]{1,64}$`)

// actorID is the subject as Whistle knows the user: the provider's
// subject when it is a valid actor id (up to 64 printable ASCII
// characters), otherwise a stable digest of it.
func actorID(sub string) string {
	if actorPattern.MatchString(sub) {
		return sub
	}
	sum := sha256.Sum256([]byte(sub))
	return "oidc-" + hex.EncodeToString(sum[:12])
}

// mint signs the principal's Whistle token.
func (f *oidcFlow) mint(p auth.Principal) (session, error) {
	now := f.cfg.Clock()
	signer := *f.cfg.Signer
	signer.Clock = f.cfg.Clock
	tok, err := signer.Mint(auth.Claims{Subject: p.Subject, OrgUnit: p.OrgUnit, Roles: p.Roles, Audience: f.cfg.Audience,
		Issuer: f.cfg.TokenIssuer, TTL: f.cfg.TTL})
	if err != nil {
		return session{}, err
	}
	roles := make([]string, len(p.Roles))
	for i, r := range p.Roles {
		roles[i] = string(r)
	}
	return session{Token: tok, Role: roles[0], Roles: roles, OrgUnit: p.OrgUnit, Name: p.Subject,
		ExpiresAt: now.Add(f.cfg.TTL).UTC().Format(time.RFC3339)}, nil
}

// checkOrgUnit asks the catalog, with the new token itself, whether the
// org unit is one of the city's units or departments (a token for a unit
// outside the active org tree is refused by the APIs anyway: this says
// so at sign-in, with what to ask the administrator).
func (c *Console) checkOrgUnit(ctx context.Context, s session) *signInError {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	cat, err := whistlev1.NewDispatchServiceClient(c.cfg.Conn).GetCatalog(bearerContext(ctx, s.Token), &whistlev1.GetCatalogRequest{})
	if status.Code(err) == codes.PermissionDenied {
		// Everyone may read the catalog; the APIs refuse a token only for
		// an org unit that is not in the active org tree.
		return new(pageUnknownOrgUnit(c.oidc.cfg.OrgClaim, s.Name, s.OrgUnit))
	}
	if err != nil {
		c.cfg.Log.WarnContext(ctx, "console sign-in: the catalog could not be read to check the org unit", "err", err)
		return new(pageCatalogDown())
	}
	for _, u := range cat.GetOrgUnits() {
		if u.GetId() == s.OrgUnit {
			return nil
		}
	}
	for _, d := range cat.GetDepartments() {
		if d.GetId() == s.OrgUnit {
			return nil
		}
	}
	return new(pageUnknownOrgUnit(c.oidc.cfg.OrgClaim, s.Name, s.OrgUnit))
}

// bearerContext is ctx carrying a token to the API.
func bearerContext(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// finish is POST /session/oidc: the token the callback kept for this
// browser (its handoff cookie), once. The token is in this answer's body
// only: never in a URL, a cookie or a log.
func (c *Console) finish(w http.ResponseWriter, r *http.Request) {
	if c.oidc == nil {
		writeError(w, http.StatusNotFound, "this console signs in with sample users or a pasted token")
		return
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		writeError(w, http.StatusForbidden, "a sign-in is finished by the console's own page")
		return
	}
	cookie, err := r.Cookie(handoffCookie)
	http.SetCookie(w, c.oidc.cookie(handoffCookie, "", "session/oidc", -time.Second))
	if err != nil || len(cookie.Value) > maxState {
		writeError(w, http.StatusUnauthorized, "no sign-in to finish: sign in with the city's account again")
		return
	}
	s, ok := c.oidc.handoffs.take(cookie.Value)
	if !ok {
		writeError(w, http.StatusUnauthorized, "this sign-in was already finished or has expired: sign in with the city's account again")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(s)
}

// refused logs why a sign-in was refused (never a token, code or state)
// and answers the page saying what to do.
func (c *Console) refused(w http.ResponseWriter, r *http.Request, reason string, page signInError) {
	c.cfg.Log.InfoContext(r.Context(), "console sign-in refused", "reason", reason, "status", page.Status)
	c.signInPage(w, r, page)
}
