package main

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// tokenCase is one bearer token and what a call with it must get.
type tokenCase struct {
	name  string
	token func(k *keys) string
	want  codes.Code
}

// with returns valid claims for grid A's reporter, changed by mod.
func with(mod func(c claims, now int64)) claims {
	c := baseClaims("adv-token-reporter@"+gridA, auth.RoleReporter, gridA)
	mod(c, time.Now().Unix())
	return c
}

const hour = int64(3600)

func tokenCases() []tokenCase {
	forged := func(mod func(claims, int64)) func(*keys) string {
		return func(k *keys) string { return k.forge(nil, with(mod)) }
	}
	minted := func(role auth.Role, ttl time.Duration) func(*keys) string {
		return func(k *keys) string {
			t, err := k.signer.Mint(auth.Claims{Subject: "adv-token-" + string(role), OrgUnit: gridA, Roles: []auth.Role{role},
				Audience: audience, Issuer: devIssuer, TTL: ttl})
			if err != nil {
				return "mint failed: " + err.Error()
			}
			return t
		}
	}
	un := codes.Unauthenticated
	return []tokenCase{
		{"control: a token as dev mints them, for 1 h", minted(auth.RoleReporter, time.Hour), codes.OK},
		{"control: a lifetime of 23 h", forged(func(c claims, now int64) { c["exp"] = now + 23*hour }), codes.OK},
		{"a lifetime of 48 h (exp − iat)", minted(auth.RoleReporter, 48*time.Hour), un},
		{"a lifetime of 25 h (exp − iat)", forged(func(c claims, now int64) { c["exp"] = now + 25*hour }), un},
		{"no iat, exp 48 h from now", forged(func(c claims, now int64) { delete(c, "iat"); c["exp"] = now + 48*hour }), un},
		{"no iat and no nbf, exp 30 days from now", forged(func(c claims, now int64) {
			delete(c, "iat")
			delete(c, "nbf")
			c["exp"] = now + 30*24*hour
		}), un},
		{"no exp", forged(func(c claims, _ int64) { delete(c, "exp") }), un},
		{"the role resident", minted(auth.RoleResident, time.Hour), un},
		{"the roles reporter and resident", forged(func(c claims, _ int64) { c["roles"] = []string{"reporter", "resident"} }), un},
		{"iss \"evil\" (dev mints with iss whistle-dev, so it must check it)", forged(func(c claims, _ int64) { c["iss"] = "evil" }), un},
		{"no iss (dev mints with iss whistle-dev, so it must check it)", forged(func(c claims, _ int64) { delete(c, "iss") }), un},
		{"expired an hour ago", forged(func(c claims, now int64) { c["iat"], c["nbf"], c["exp"] = now-2*hour, now-2*hour, now-hour }), un},
		{"not valid for another hour (nbf)", forged(func(c claims, now int64) { c["nbf"], c["exp"] = now+hour, now+2*hour }), un},
		{"issued an hour from now (iat)", forged(func(c claims, now int64) { c["iat"], c["exp"] = now+hour, now+2*hour }), un},
		{"another audience", forged(func(c claims, _ int64) { c["aud"] = []string{"not-whistle"} }), un},
		{"no org unit", forged(func(c claims, _ int64) { delete(c, "org") }), un},
		{"an org unit of 65 bytes", forged(func(c claims, _ int64) { c["org"] = big(65) }), un},
		{"no roles", forged(func(c claims, _ int64) { delete(c, "roles") }), un},
		{"an unknown role \"superuser\"", forged(func(c claims, _ int64) { c["roles"] = []string{"superuser"} }), un},
		{"no subject", forged(func(c claims, _ int64) { delete(c, "sub") }), un},
		{"signed by another key under dev's kid", func(k *keys) string { return k.forgeOtherKey(with(func(claims, int64) {})) }, un},
		{"signed under a kid dev does not publish", func(k *keys) string {
			return k.forge(map[string]any{"kid": "dev-0000000000000000"}, with(func(claims, int64) {}))
		}, un},
		{"alg none", func(k *keys) string { return k.forgeNone(with(func(claims, int64) {})) }, un},
		{"alg HS256 keyed by dev's public key", func(k *keys) string { return k.forgeHMAC(with(func(claims, int64) {})) }, un},
		{"a valid token with its signature cut off", func(k *keys) string {
			t := k.forge(nil, with(func(claims, int64) {}))
			return t[:strings.LastIndex(t, ".")+1]
		}, un},
		{"not a JWT", func(*keys) string { return "not.a-jwt" }, un},
		{"empty", func(*keys) string { return "" }, un},
	}
}

// runTokens plays check 7: each token reads a ticket in its place.
func (w *world) runTokens(ctx context.Context, rep *report) {
	t := w.fx.t("matrix")
	for _, tc := range tokenCases() {
		cctx, cancel := context.WithTimeout(withToken(ctx, tc.token(w.keys)), callTimeout)
		o := observe(w.c.Intake.GetTicket(cctx, &whistlev1.GetTicketRequest{Ticket: t.id}))
		cancel()
		rep.check(gToken, "IntakeService.GetTicket with a token: "+tc.name, o.code == tc.want, tc.want.String(), o.String())
	}
}
