package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Token limits.
const (
	// MaxTokenBytes is the longest token Verify reads.
	MaxTokenBytes = 8 << 10
	// MaxOrgUnitLen is the longest org unit id a token or certificate map may carry.
	MaxOrgUnitLen = 64
	// MaxSubjectLen is the longest subject a token may carry.
	MaxSubjectLen = 256
)

// algorithms are the signature algorithms tokens may use: no "none", no
// HMAC, no RSA.
var algorithms = []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256, jose.ES384}

// tokenClaims is a Whistle token's payload: the registered claims plus
// "org" (the org unit) and "roles" (role names).
type tokenClaims struct {
	jwt.Claims
	OrgUnit string   `json:"org,omitempty"`
	Roles   []string `json:"roles,omitempty"`
}

// Verify checks a bearer token (without the "Bearer " prefix) and returns
// the principal it names, Via "jwt". Every failure wraps ErrUnauthenticated
// and says which check failed; the token itself is never part of it.
func (v *Verifier) Verify(token string) (Principal, error) {
	v.refreshIfDue()
	sum := sha256.Sum256([]byte(token))
	if c, ok := v.verified.get(v.keys.Load(), sum); ok {
		return v.check(c)
	}
	kid, err := tokenKeyID(token)
	if err != nil {
		return Principal{}, err
	}
	key, ok := v.lookup(kid)
	if !ok {
		return Principal{}, unauthenticated("token signed by an unknown key (kid %q): get a new token (whistlectl token); if it is new, the key may not be published in the JWKS yet", clip(kid))
	}
	c, err := verifySignature(token, key)
	if err != nil {
		return Principal{}, err
	}
	v.verified.put(v.keys.Load(), sum, c)
	return v.check(c)
}

// tokenKeyID reads the unverified header for its kid, refusing tokens that
// are not three base64url parts or use an algorithm not accepted.
func tokenKeyID(token string) (string, error) {
	if token == "" {
		return "", unauthenticated("malformed token: it is empty: send the token itself after \"Bearer \"")
	}
	if len(token) > MaxTokenBytes {
		return "", unauthenticated("malformed token: longer than %d bytes: send the token itself, once", MaxTokenBytes)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", unauthenticated("malformed token: a JWT has three dot-separated parts, this has %d: send the whole token", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	var h struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err != nil || json.Unmarshal(raw, &h) != nil {
		return "", unauthenticated("malformed token: its header is not base64url-encoded JSON: send the token as issued")
	}
	if !slices.Contains(algorithms, jose.SignatureAlgorithm(h.Alg)) {
		return "", unauthenticated("token signed with algorithm %q: only EdDSA, ES256 and ES384 are accepted; get a token from whistlectl token", clip(h.Alg))
	}
	if h.Kid == "" {
		return "", unauthenticated("token names no signing key (kid): mint it with a key that has a kid (whistlectl token does)")
	}
	return h.Kid, nil
}

// verifySignature checks the signature with key and decodes the claims.
func verifySignature(token string, key verifyKey) (tokenClaims, error) {
	var c tokenClaims
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{key.alg})
	if err != nil {
		return c, unauthenticated("malformed token or wrong algorithm for its key (%s expected): send the token as issued", key.alg)
	}
	payload, err := jws.Verify(key.key)
	if err != nil {
		return c, unauthenticated("token signature does not verify: it was altered, or signed by another key with the same kid; get a new token (whistlectl token)")
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, unauthenticated("malformed token: its claims are not a JSON object of the expected types: mint it with whistlectl token")
	}
	return c, nil
}

// check applies the claim checks to verified claims and builds the principal.
func (v *Verifier) check(c tokenClaims) (Principal, error) {
	if err := v.checkIssuerAndAudience(c); err != nil {
		return Principal{}, err
	}
	if err := v.checkTimes(c, v.cfg.Clock()); err != nil {
		return Principal{}, err
	}
	if c.Subject == "" || len(c.Subject) > MaxSubjectLen {
		return Principal{}, unauthenticated("no usable subject claim (sub, 1 to %d bytes): mint the token for a subject", MaxSubjectLen)
	}
	org, err := checkOrgUnit(c.OrgUnit)
	if err != nil {
		return Principal{}, err
	}
	roles, err := parseRoles(c.Roles)
	if err != nil {
		return Principal{}, unauthenticated("%v in the token's roles claim: get a token with known roles (whistlectl token)", err)
	}
	return Principal{Subject: c.Subject, OrgUnit: org, Roles: roles, Via: "jwt"}, nil
}

// checkIssuerAndAudience checks "iss" (when an issuer is configured) and "aud".
func (v *Verifier) checkIssuerAndAudience(c tokenClaims) error {
	if v.cfg.Issuer != "" && c.Issuer != v.cfg.Issuer {
		return unauthenticated("wrong issuer %q: this server accepts tokens issued by %q; get a token from it", clip(c.Issuer), v.cfg.Issuer)
	}
	if !c.Audience.Contains(v.cfg.Audience) {
		return unauthenticated("wrong audience %q: this server accepts tokens for %q; get a token minted for it", clip(strings.Join(c.Audience, ",")), v.cfg.Audience)
	}
	return nil
}

// checkTimes checks "exp" (required), "nbf" and "iat" with the leeway.
func (v *Verifier) checkTimes(c tokenClaims, now time.Time) error {
	l := v.cfg.Leeway
	switch {
	case c.Expiry == nil:
		return unauthenticated("token has no expiry (exp): get a token that expires (whistlectl token)")
	case now.Add(-l).After(c.Expiry.Time()):
		return unauthenticated("token expired at %s: get a new token (whistlectl token)", stamp(c.Expiry))
	case c.NotBefore != nil && now.Add(l).Before(c.NotBefore.Time()):
		return unauthenticated("token not yet valid until %s: wait, or check the clocks of issuer and server", stamp(c.NotBefore))
	case c.IssuedAt != nil && now.Add(l).Before(c.IssuedAt.Time()):
		return unauthenticated("token issued in the future (%s): check the clocks of issuer and server", stamp(c.IssuedAt))
	}
	from := now
	if c.IssuedAt != nil {
		from = c.IssuedAt.Time()
	}
	if life := c.Expiry.Time().Sub(from); life > v.cfg.MaxLifetime+l {
		return unauthenticated("token valid for %s, longer than the %s this server accepts: get a token that expires sooner (whistlectl token --ttl)",
			life.Round(time.Minute), v.cfg.MaxLifetime)
	}
	return nil
}

func stamp(d *jwt.NumericDate) string { return d.Time().UTC().Format(time.RFC3339) }

// checkOrgUnit checks an org unit id: present and at most MaxOrgUnitLen bytes.
func checkOrgUnit(org string) (string, error) {
	if org == "" {
		return "", unauthenticated("no org unit claim (org): mint the token for the org unit the caller acts for")
	}
	if len(org) > MaxOrgUnitLen {
		return "", unauthenticated("org unit claim longer than %d bytes: use the org unit's id", MaxOrgUnitLen)
	}
	return org, nil
}

// parseRoles parses the role names of a credential (a token or a
// certificate mapping), at least one, dropping duplicates. The resident's
// role is refused: a resident has no account, and is admitted only by the
// one-time evaluation code of their own report, for that one call.
func parseRoles(names []string) ([]Role, error) {
	if len(names) == 0 {
		return nil, errors.New("no roles (at least one is needed)")
	}
	roles := make([]Role, 0, len(names))
	for _, n := range names {
		r, err := ParseRole(n)
		if err != nil {
			return nil, fmt.Errorf("unknown role %q (one of %v)", clip(n), Roles)
		}
		if r == RoleResident {
			return nil, errors.New(`role "resident" (residents have no credentials: they judge with their ticket's evaluation code alone)`)
		}
		if !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	return roles, nil
}
