package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/whistle-civic/whistle/pkg/auth"
)

func tokenCommand(g *globals) *cobra.Command {
	var key, orgUnit, subject, audience, issuer string
	var roleNames []string
	var ttl time.Duration
	var names []string
	for _, r := range auth.Roles {
		if r != auth.RoleResident {
			names = append(names, string(r))
		}
	}
	cmd := &cobra.Command{
		Use:   "token --role ROLE --org-unit ORG",
		Short: "Mint a bearer token for a role acting for an org unit (ops and tests)",
		Long: `token signs a bearer token with a private key (a JWK, as "whistle dev" writes in
<data>/auth/signer-<kid>.json) and prints it: a principal with the roles
given, acting for the org unit given. Whistle accepts it when the key's
public half is in the JWKS it verifies with.

Tokens for production come from the city's identity provider; this command
is for operations and tests (a local "whistle dev", a staging stack, a
script that needs one role for a while). Pass the token to whistlectl with
--token (or WHISTLE_TOKEN), or to any client as "authorization: Bearer <token>".

Roles: ` + wrap(strings.Join(names, ", ")+".", 72, "\n  ") + `
Residents need no token: they evaluate with their one-time code
(whistlectl evaluate --code).`,
		Example: `  whistlectl token --role department_handler --org-unit xc-water
  whistlectl token --key data/auth/signer-dev-1a2b.json --role monitor --org-unit hh --ttl 1h
  WHISTLE_TOKEN=$(whistlectl token --role street_officer --org-unit xc-hd) whistlectl triage list xc-hd`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if key == "" {
				key = first(g.signingKey, os.Getenv("WHISTLE_SIGNING_KEY"), g.file.SigningKey)
			}
			if key == "" {
				return errors.New("no signing key: pass --key <private JWK file> (`whistle dev` writes <data>/auth/signer-<kid>.json), " +
					"or set --signing-key, WHISTLE_SIGNING_KEY or signing_key in the config file")
			}
			if len(roleNames) == 0 {
				return fmt.Errorf("say which role the token holds: --role, one of %s", strings.Join(names, ", "))
			}
			var roles []auth.Role
			for _, n := range roleNames {
				r, err := auth.ParseRole(strings.TrimSpace(n))
				if err != nil {
					return fmt.Errorf("--role %q: not a role: choose one of %s", n, strings.Join(names, ", "))
				}
				if r == auth.RoleResident {
					return errors.New("--role resident: residents need no token; they evaluate with their one-time code (whistlectl evaluate --code)")
				}
				roles = append(roles, r)
			}
			if orgUnit == "" {
				return errors.New("say which org unit the token acts for: --org-unit, e.g. xc-water (a department), xc-hd (a street) or the city")
			}
			if len(orgUnit) > auth.MaxOrgUnitLen {
				return fmt.Errorf("--org-unit %q: longer than %d bytes; use the org unit's id", orgUnit, auth.MaxOrgUnitLen)
			}
			if ttl <= 0 {
				return fmt.Errorf("--ttl %s: give a positive duration, e.g. 12h", ttl)
			}
			if audience == "" {
				return errors.New(`--audience: give the service the token is for, e.g. "whistle"`)
			}
			if subject == "" {
				subject = "whistlectl:" + strings.Join(roleNames, "+") + "@" + orgUnit
			}
			s, err := auth.LoadSigner(key)
			if err != nil {
				return fmt.Errorf("--key: %w", err)
			}
			tok, err := s.Mint(auth.Claims{Subject: subject, OrgUnit: orgUnit, Roles: roles, Audience: audience, Issuer: issuer, TTL: ttl})
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintln(cmd.OutOrStdout(), tok); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "token for %s (roles %s, acting for %s), valid until %s\n", subject,
				strings.Join(roleNames, ","), orgUnit, time.Now().Add(ttl).Local().Format("2006-01-02 15:04:05"))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&key, "key", "", "private JWK to sign with (default: the configured signing key)")
	f.StringSliceVar(&roleNames, "role", nil, "role the token holds (repeat, or separate with commas, for several): "+strings.Join(names, ", "))
	f.StringVar(&orgUnit, "org-unit", "", "org unit the token acts for: a grid, community, street, district, department or the city")
	f.StringVar(&subject, "subject", "", `who the token names, e.g. u-4711 (default "whistlectl:<role>@<org unit>")`)
	f.DurationVar(&ttl, "ttl", auth.DefaultTTL, "how long the token is valid")
	f.StringVar(&audience, "audience", mintAudience, "the service the token is for")
	f.StringVar(&issuer, "issuer", "", "issuer (iss) to name, when the server checks one")
	return cmd
}

// wrap breaks text into lines of at most width bytes at spaces, joined by sep.
func wrap(text string, width int, sep string) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return strings.Join(append(lines, line), sep)
}
