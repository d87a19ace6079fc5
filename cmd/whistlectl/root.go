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

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"gopkg.in/yaml.v3"

	"github.com/whistle-civic/whistle/pkg/client"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
)

// globals are the settings every command shares: from flags, else the
// environment (WHISTLE_ADDR, WHISTLE_TOKEN), else the config file, else defaults.
type globals struct {
	addr, token, config, output string
	file                        fileConfig
	c                           *client.Client
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
}

func rootCommand() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "whistlectl",
		Short: "Command line for Whistle (村居吹哨、未诉先办)",
		Long: `whistlectl talks to a Whistle deployment over gRPC: report whistles, work a
department's inbox, evaluate results, run the triage desk, manage the catalog,
and follow tickets through the loop. Start a local one with "make run".

Settings come from flags, else WHISTLE_ADDR / WHISTLE_TOKEN, else the config
file (--config, WHISTLE_CONFIG or ~/.config/whistle/whistlectl.yaml).`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: g.load,
		PersistentPostRun: func(*cobra.Command, []string) {
			if g.c != nil {
				_ = g.c.Close()
			}
		},
	}
	f := root.PersistentFlags()
	f.StringVar(&g.addr, "addr", "", "Whistle's gRPC address (env WHISTLE_ADDR; default 127.0.0.1:7000)")
	f.StringVar(&g.token, "token", "", "bearer token (env WHISTLE_TOKEN)")
	f.StringVar(&g.config, "config", "", "config file (env WHISTLE_CONFIG; default ~/.config/whistle/whistlectl.yaml)")
	f.StringVarP(&g.output, "output", "o", "table", "output format: table or json (protojson)")
	root.AddCommand(reportCommand(g), ticketsCommand(g), showCommand(g), inboxCommand(g), itemCommand(g), watchCommand(g),
		acceptCommand(g), progressCommand(g), assistCommand(g), resolveCommand(g), returnCommand(g), extensionCommand(g),
		evaluateCommand(g), evaluationCommand(g), evaluationsCommand(g), triageCommand(g), arbitrateCommand(g),
		assignmentCommand(g), explainCommand(g), catalogCommand(g), countsCommand(g), smokeCommand(g),
		scorecardCommand(g), rankingsCommand(g), overdueCommand(g), boardCommand(g), hotspotsCommand(g), topProblemsCommand(g),
		rebuildCommand(g))
	return root
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
	if b, err := os.ReadFile(path); err == nil {
		if err := yaml.Unmarshal(b, &g.file); err != nil {
			return fmt.Errorf("config file %s: %w (it is YAML with addr, token or token_file, tls, ca_file)", path, err)
		}
		if g.file.TokenFile != "" && g.file.Token == "" {
			tok, err := os.ReadFile(resolve(path, g.file.TokenFile))
			if err != nil {
				return fmt.Errorf("token_file of %s: %w", path, err)
			}
			g.file.Token = strings.TrimSpace(string(tok))
		}
	} else if explicit {
		return fmt.Errorf("config file: %w (check --config or WHISTLE_CONFIG)", err)
	}
	g.addr = first(g.addr, os.Getenv("WHISTLE_ADDR"), g.file.Addr, "127.0.0.1:7000")
	g.token = first(g.token, os.Getenv("WHISTLE_TOKEN"), g.file.Token)
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

// clients connects once (through pkg/client: token, TLS, retries) and
// returns the five APIs.
func (g *globals) clients() (loop.Clients, error) {
	if g.c == nil {
		var opts []client.Option
		if g.token != "" {
			opts = append(opts, client.WithToken(g.token))
		}
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
// server's status as "<code>: <our context>: <server's message>".
func explain(err error) error {
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
		return fmt.Errorf("not signed in: %s (pass --token, set WHISTLE_TOKEN, or put a token in the config file)", msg)
	default:
		return fmt.Errorf("%s: %s", st.Code(), msg)
	}
}
