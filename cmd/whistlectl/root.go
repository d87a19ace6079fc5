package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"gopkg.in/yaml.v3"

	"github.com/whistle-civic/whistle/pkg/client"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
)

// globals are the settings every command shares: from flags, else the
// environment (WHISTLE_ADDR, WHISTLE_TOKEN, WHISTLE_SIGNING_KEY,
// WHISTLE_CITY_UNIT), else the config file, else defaults.
type globals struct {
	addr, token, config, output string
	// signingKey is the private JWK to mint tokens with; city the root org unit.
	signingKey, city string
	file             fileConfig
	c                *client.Client

	creds *credentials // who the calls act as: minted tokens or one token

	// utc prints times in UTC; loc is the zone times are printed in (see
	// zone.go), zoneErr why the city's could not be read; timesShown and
	// zoneNoted say a time was printed and the zone named.
	utc                   bool
	loc                   *time.Location
	zoneErr               error
	timesShown, zoneNoted bool
}

// fileConfig is whistlectl's config file (YAML), at --config, WHISTLE_CONFIG
// or ~/.config/whistle/whistlectl.yaml.
type fileConfig struct {
	// Addr of the deployment.
	Addr string `yaml:"addr"`
	// Token is a bearer token; TokenFile a file holding one.
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
	// TLS connects with TLS; CAFile adds a CA to trust; ServerName overrides
	// the name checked in the server's certificate.
	TLS        bool   `yaml:"tls"`
	CAFile     string `yaml:"ca_file"`
	ServerName string `yaml:"server_name"`
	// SigningKey is a private JWK (a path, relative to the config file) to
	// mint a token for each call, acting as whoever makes that call; it
	// takes the place of Token. `whistle dev` writes one.
	SigningKey string `yaml:"signing_key"`
	// City is the root org unit: the city's monitor and administrator act for it.
	City string `yaml:"city"`
	// Issuer is the "iss" of the tokens minted with SigningKey, for a server
	// that checks it (WHISTLE_JWT_ISSUER); `whistle dev` writes its own.
	Issuer string `yaml:"issuer"`
	// TraceURL links a ticket's trace in a trace UI: a template in which
	// {trace_id} stands for the trace id, e.g.
	// "http://localhost:16686/trace/{trace_id}". See whistlectl trace.
	TraceURL string `yaml:"trace_url"`
}

func rootCommand() (*cobra.Command, *globals) {
	g := &globals{}
	root := &cobra.Command{
		Use:   "whistlectl",
		Short: "Command line for Whistle (村居吹哨、未诉先办)",
		Long: `whistlectl talks to a Whistle deployment over gRPC: report whistles, work a
department's inbox, evaluate results, run the triage desk, manage the catalog,
and follow tickets through the loop. Start a local one with "make run".

Settings come from flags, else WHISTLE_ADDR / WHISTLE_TOKEN /
WHISTLE_SIGNING_KEY / WHISTLE_CITY_UNIT, else the config file (--config,
WHISTLE_CONFIG or ~/.config/whistle/whistlectl.yaml).

Every call is authenticated. With a token (--token, or token_file in the
config) every call acts as that token's principal: use one for the org unit
and role the command acts as. With a signing key (--signing-key, or
signing_key in the config, as "whistle dev" writes it) whistlectl mints a
short-lived token for each call, acting as whoever makes that call: the
reporter for "report", the department (--as) for "accept", the street for
"arbitrate", the city's monitor (--city) for reads and figures, and so on.`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: g.load,
		PersistentPostRun: func(cmd *cobra.Command, _ []string) {
			if g.timesShown {
				g.zoneNote(cmd.OutOrStdout())
			}
			if g.c != nil {
				_ = g.c.Close()
			}
		},
	}
	f := root.PersistentFlags()
	f.StringVar(&g.addr, "addr", "", "Whistle's gRPC address (env WHISTLE_ADDR; default 127.0.0.1:7000)")
	f.StringVar(&g.token, "token", "", "bearer token (env WHISTLE_TOKEN); every call acts as its principal")
	f.StringVar(&g.signingKey, "signing-key", "", "private JWK to mint a token for each call, acting as whoever makes it (env WHISTLE_SIGNING_KEY)")
	f.StringVar(&g.city, "city", "", "the city's root org unit, which the city's monitor and administrator act for (env WHISTLE_CITY_UNIT)")
	f.StringVar(&g.config, "config", "", "config file (env WHISTLE_CONFIG; default ~/.config/whistle/whistlectl.yaml)")
	f.StringVarP(&g.output, "output", "o", "table", "output format: table or json (protojson, times in RFC 3339)")
	f.BoolVar(&g.utc, "utc", false, "print times in UTC instead of the city's time zone (the active catalog's calendar)")
	root.AddCommand(reportCommand(g), ticketsCommand(g), showCommand(g), traceCommand(g), inboxCommand(g), itemCommand(g), watchCommand(g),
		acceptCommand(g), progressCommand(g), assistCommand(g), resolveCommand(g), returnCommand(g), extensionCommand(g),
		evaluateCommand(g), evaluationCommand(g), evaluationsCommand(g), triageCommand(g), arbitrateCommand(g),
		withdrawCommand(g), mergeCommand(g), duplicatesCommand(g), photosCommand(g), importCommand(g),
		assignmentCommand(g), explainCommand(g), catalogCommand(g), calendarCommand(g), countsCommand(g), smokeCommand(g),
		scorecardCommand(g), rankingsCommand(g), overdueCommand(g), boardCommand(g), hotspotsCommand(g), topProblemsCommand(g), callbacksCommand(g),
		rebuildCommand(g), auditCommand(g), deadLettersCommand(g), webhooksCommand(g), open311Command(g), tokenCommand(g))
	return root, g
}

// load settles the settings: flag, else environment, else config file, else default.
func (g *globals) load(cmd *cobra.Command, _ []string) error {
	if g.output != "table" && g.output != "json" {
		return fmt.Errorf("-o %q: use table or json", g.output)
	}
	path := first(g.config, os.Getenv("WHISTLE_CONFIG"))
	explicit := path != ""
	if !explicit {
		if home, err := os.UserConfigDir(); err == nil {
			path = filepath.Join(home, "whistle", "whistlectl.yaml")
		}
	}
	var tokenFile string // the config's token_file, read only when its token is used
	if b, err := os.ReadFile(path); err == nil {
		if err := yaml.Unmarshal(b, &g.file); err != nil {
			return fmt.Errorf("config file %s: %w (it is YAML with addr, token or token_file, signing_key, issuer, city, tls, ca_file, trace_url)", path, err)
		}
		if g.file.TokenFile != "" {
			tokenFile = resolve(path, g.file.TokenFile)
		}
		if g.file.SigningKey != "" {
			g.file.SigningKey = resolve(path, g.file.SigningKey)
		}
	} else if explicit {
		return fmt.Errorf("config file: %w (check --config or WHISTLE_CONFIG)", err)
	}
	g.addr = first(g.addr, os.Getenv("WHISTLE_ADDR"), g.file.Addr, "127.0.0.1:7000")
	g.city = first(g.city, os.Getenv("WHISTLE_CITY_UNIT"), g.file.City)
	// The credentials: a signing key or a token, whichever is set at the
	// first level that sets one (flags, environment, config file); at one
	// level the signing key wins, but two flags contradict each other.
	if g.token != "" && g.signingKey != "" {
		return errors.New("--token and --signing-key: give one; a token acts as its own principal, a signing key mints one for each call")
	}
	switch {
	case g.signingKey != "" || g.token != "":
	case os.Getenv("WHISTLE_SIGNING_KEY") != "":
		g.signingKey = os.Getenv("WHISTLE_SIGNING_KEY")
	case os.Getenv("WHISTLE_TOKEN") != "":
		g.token = os.Getenv("WHISTLE_TOKEN")
	case g.file.SigningKey != "":
		g.signingKey = g.file.SigningKey
	case g.file.Token != "":
		g.token = g.file.Token
	case tokenFile != "":
		tok, err := os.ReadFile(tokenFile)
		if err != nil {
			return fmt.Errorf("token_file of %s: %w", path, err)
		}
		g.token = strings.TrimSpace(string(tok))
	}
	g.creds = &credentials{signingKey: g.signingKey, issuer: first(os.Getenv("WHISTLE_JWT_ISSUER"), g.file.Issuer), token: g.token,
		tokens: map[string]minted{}}
	return nil
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// resolve reads a path in a config file relative to that file.
func resolve(configPath, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(configPath), p)
}

// clients connects once (through pkg/client: TLS, retries) and returns the
// APIs. With a token, the connection sends it with every call (but a
// resident's, see anonymous); with a signing key, each call's context
// carries the token minted for it (see as) and the connection sends none.
func (g *globals) clients() (loop.Clients, error) {
	if g.c == nil {
		var opts []client.Option
		var secure bool
		if g.file.TLS {
			cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: g.file.ServerName}
			if g.file.CAFile != "" {
				pem, err := os.ReadFile(g.file.CAFile)
				if err != nil {
					return loop.Clients{}, fmt.Errorf("ca_file: %w", err)
				}
				cfg.RootCAs = x509.NewCertPool()
				cfg.RootCAs.AppendCertsFromPEM(pem)
			}
			opts = append(opts, client.WithTLS(cfg))
			secure = true
		}
		if !g.creds.minting() && g.token != "" {
			opts = append(opts, client.WithDialOptions(grpc.WithPerRPCCredentials(connToken{token: g.token, secure: secure})))
		}
		c, err := client.Dial(context.Background(), g.addr, opts...)
		if err != nil {
			return loop.Clients{}, fmt.Errorf("--addr %q: %w", g.addr, err)
		}
		g.c = c
	}
	return loop.NewClients(g.c.Conn()), nil
}

// explain adds what to do next to the errors users meet most, and shows a
// server's status as "<code>: <our context>: <server's message>". c tells
// whose credentials the failed call carried (nil: unknown).
func explain(err error, c *credentials) error {
	var se interface {
		error
		GRPCStatus() *status.Status
	}
	if !errors.As(err, &se) {
		return err
	}
	st := se.GRPCStatus()
	msg := strings.Replace(err.Error(), se.Error(), st.Message(), 1)
	switch st.Code() {
	case codes.Unavailable:
		return fmt.Errorf("cannot reach Whistle at this address (%s): start it with `make run` or `whistle dev`, or point --addr (WHISTLE_ADDR) at a running one", msg)
	case codes.DeadlineExceeded:
		return fmt.Errorf("no answer from Whistle in time (%s): check it is healthy and retry", msg)
	case codes.InvalidArgument:
		return fmt.Errorf("refused: %s (fix the value named and retry)", msg)
	case codes.Unauthenticated:
		return fmt.Errorf("no or bad credentials (%s): pass --token, or use the config `whistle dev` writes "+
			"(whistlectl --config <data>/whistlectl.yaml)", msg)
	case codes.PermissionDenied:
		return fmt.Errorf("%s: not allowed: %s (%s; use a token for the right org unit and role)", st.Code(), msg, c.describe())
	default:
		return fmt.Errorf("%s: %s", st.Code(), msg)
	}
}
