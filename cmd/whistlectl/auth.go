package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/policy"
)

// Tokens whistlectl mints for its own calls.
const (
	// mintAudience is the service the tokens are for.
	mintAudience = "whistle"
	// mintTTL is how long a token minted for a call lives.
	mintTTL = time.Hour
	// remintBefore is how long before its expiry a cached token is replaced.
	remintBefore = 5 * time.Minute
)

// errNoCity: a command acts as the city's monitor or administrator, and no
// city is configured.
var errNoCity = errors.New("this command acts for the whole city (as its monitor or administrator), and the city's org unit is " +
	"not set: pass --city <root org unit>, set WHISTLE_CITY_UNIT, or add `city:` to the config file (`whistle dev` writes it)")

// credentials are who whistlectl's calls act as: with a signing key, a
// token minted for each call's principal; otherwise the one token (or none)
// the connection sends. Safe for concurrent use (smoke calls from many
// goroutines).
type credentials struct {
	signingKey, token string
	// issuer is the "iss" minted tokens carry ("" for none).
	issuer string

	mu      sync.Mutex
	signer  *auth.Signer
	loadErr error
	tokens  map[string]minted // by "role@org unit"
	last    string            // the principal of the latest minted token, "role@org unit"
	asErr   error             // the first error of as, which cannot return one
}

// minted is a cached token and when it expires.
type minted struct {
	token   string
	expires time.Time
}

// minting reports whether calls carry tokens minted with a signing key.
func (c *credentials) minting() bool { return c != nil && c.signingKey != "" }

// loadSigner reads the signing key, once.
func (c *credentials) loadSigner() (*auth.Signer, error) {
	if c.signer == nil && c.loadErr == nil {
		c.signer, c.loadErr = auth.LoadSigner(c.signingKey)
		if c.loadErr != nil {
			c.loadErr = fmt.Errorf("%w (check --signing-key, WHISTLE_SIGNING_KEY or signing_key in the config file)", c.loadErr)
		}
	}
	return c.signer, c.loadErr
}

// mint returns a token for a principal with one role acting for orgUnit,
// minted once and reused until shortly before it expires.
func (c *credentials) mint(role auth.Role, orgUnit string) (string, error) {
	if orgUnit == "" {
		return "", fmt.Errorf("no org unit to act for as %s: name it (e.g. with --as)", role)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key := string(role) + "@" + orgUnit
	if m, ok := c.tokens[key]; ok && time.Until(m.expires) > remintBefore {
		c.last = key
		return m.token, nil
	}
	s, err := c.loadSigner()
	if err != nil {
		return "", err
	}
	now := time.Now()
	tok, err := s.Mint(auth.Claims{Subject: "whistlectl:" + key, OrgUnit: orgUnit, Roles: []auth.Role{role},
		Audience: mintAudience, Issuer: c.issuer, TTL: mintTTL})
	if err != nil {
		return "", fmt.Errorf("token for %s: %w", key, err)
	}
	c.tokens[key] = minted{token: tok, expires: now.Add(mintTTL)}
	c.last = key
	return tok, nil
}

// attach returns ctx carrying the credentials of a principal with the role
// acting for orgUnit: with a signing key, a token minted for it as the
// call's "authorization" metadata; without, ctx unchanged (the connection's
// token, if any, is sent as is: whether it fits is the user's business).
func (c *credentials) attach(ctx context.Context, role auth.Role, orgUnit string) (context.Context, error) {
	if !c.minting() {
		return ctx, nil
	}
	tok, err := c.mint(role, orgUnit)
	if err != nil {
		return ctx, err
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	md.Set("authorization", "Bearer "+tok)
	return metadata.NewOutgoingContext(ctx, md), nil
}

// describe says whose credentials the latest call carried, for an error.
func (c *credentials) describe() string {
	switch {
	case c == nil:
		return "whistlectl could not tell which credentials it sent"
	case c.minting():
		c.mu.Lock()
		last := c.last
		c.mu.Unlock()
		role, org, ok := strings.Cut(last, "@")
		if !ok {
			return "whistlectl minted no token for the call"
		}
		return fmt.Sprintf("your token acts for %s with roles %s (whistlectl minted it with the signing key)", org, role)
	case c.token == "":
		return "you sent no token"
	}
	org, roles, ok := peekClaims(c.token)
	if !ok {
		return "your token's org unit and roles cannot be read"
	}
	return fmt.Sprintf("your token acts for %s with roles %s", org, strings.Join(roles, ","))
}

// peekClaims reads, without verifying it, the org unit and roles a token
// claims, to say so in an error.
func peekClaims(token string) (org string, roles []string, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", nil, false
	}
	var c struct {
		Org   string   `json:"org"`
		Roles []string `json:"roles"`
	}
	if json.Unmarshal(raw, &c) != nil || c.Org == "" {
		return "", nil, false
	}
	return c.Org, c.Roles, true
}

// as is loop.Options.As: ctx carrying the credentials of a principal with
// the role acting for orgUnit (see credentials.attach). It cannot fail: when
// no token can be minted, ctx goes unchanged (the server then refuses the
// call) and the first error is kept for asError.
func (g *globals) as(ctx context.Context, role auth.Role, orgUnit string) context.Context {
	out, err := g.creds.attach(ctx, role, orgUnit)
	if err != nil {
		g.creds.mu.Lock()
		if g.creds.asErr == nil {
			g.creds.asErr = err
		}
		g.creds.mu.Unlock()
		return ctx
	}
	return out
}

// asError returns the first error of as, if any.
func (g *globals) asError() error {
	g.creds.mu.Lock()
	defer g.creds.mu.Unlock()
	return g.creds.asErr
}

// act is as for one command's call, failing when no token can be minted.
func (g *globals) act(ctx context.Context, role auth.Role, orgUnit string) (context.Context, error) {
	return g.creds.attach(ctx, role, orgUnit)
}

// actCity acts as the city's principal of a role: its monitor reads
// everything, its administrator manages the catalog, rebuilds and audits.
func (g *globals) actCity(ctx context.Context, role auth.Role) (context.Context, error) {
	if !g.creds.minting() {
		return ctx, nil
	}
	if g.city == "" {
		return ctx, errNoCity
	}
	return g.act(ctx, role, g.city)
}

// cityActor returns the org unit the city's administrator acts for in a
// request's actor: the city with a signing key, else the org unit the token
// claims (the server requires the actor's to be the token's), else the city.
func (g *globals) cityActor() (string, error) {
	if !g.creds.minting() {
		if org, _, ok := peekClaims(g.token); ok {
			return org, nil
		}
	}
	if g.city == "" {
		return "", errNoCity
	}
	return g.city, nil
}

type anonymousKey struct{}

// anonymous returns ctx for a call that carries no credentials at all: a
// resident's, whom the server recognises by the one-time evaluation code.
func anonymous(ctx context.Context) context.Context {
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	delete(md, "authorization")
	return context.WithValue(metadata.NewOutgoingContext(ctx, md), anonymousKey{}, true)
}

// connToken sends the connection's token with each call but anonymous ones.
type connToken struct {
	token  string
	secure bool
}

func (c connToken) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	if anon, _ := ctx.Value(anonymousKey{}).(bool); anon {
		return nil, nil
	}
	return map[string]string{"authorization": "Bearer " + c.token}, nil
}

func (c connToken) RequireTransportSecurity() bool { return c.secure }

// getTicket is the method that looks a ticket up by number.
const getTicket = "/whistle.v1.IntakeService/GetTicket"

// mayLookUp reports whether a role may read tickets as reported (and so look
// one up by number) where it acts.
func mayLookUp(role auth.Role) bool {
	return slices.ContainsFunc(policy.Table[getTicket], func(r policy.Rule) bool { return r.Role == role })
}
