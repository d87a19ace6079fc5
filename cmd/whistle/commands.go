package main

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/whistle-civic/whistle/cmd/internal/stack"
)

// errUsage marks errors cobra has already printed with the usage.
var errUsage = errors.New("usage")

// servePorts are the default ports of `whistle serve`, one per service, so
// that all five can run on one machine.
var servePorts = map[string]string{"intake": ":7001", "dispatch": ":7002", "response": ":7003",
	"evaluation": ":7004", "monitoring": ":7005", "open311": ":7311", "console": ":7320"}

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "whistle",
		Short: "Whistle: the civic ticket workflow engine (村居吹哨、未诉先办)",
		Long: `Whistle runs the whistle loop: report → dispatch → accept → resolve → evaluate → close.

  whistle dev              all five services in one process, on embedded defaults
  whistle serve <service>  one service alone, against external NATS and PostgreSQL
  whistle monitoring rebuild  rebuild the monitoring read models from the event stream
  whistle bench            load the whole loop at a steady rate; measure it against the floor
  whistle keys evaluation-code FILE  make the key file of the residents' evaluation codes

Configuration comes from WHISTLE_* variables (see README.md) and flags;
tracing and metrics from the standard OTEL_* variables.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(devCommand(), serveCommand(), monitoringCommand(), benchCommand(), keysCommand(), versionCommand())
	return root
}

func devCommand() *cobra.Command {
	var o devOptions
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run all five services in one process on embedded defaults",
		Long: `Run intake, dispatch, response, evaluation and monitoring in one process, all
five APIs on one gRPC port. NATS runs in-process (JetStream on disk in the data
folder) unless WHISTLE_NATS_URL is set; PostgreSQL is WHISTLE_DATABASE_URL or,
when that is unset, a private server started from the machine's PostgreSQL
binaries in the data folder, on a unix socket. Ctrl-C stops everything.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			return runDev(cmd.Context(), cfg, o, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&o.addr, "addr", "127.0.0.1:7000", "gRPC address for all five APIs")
	cmd.Flags().StringVar(&o.data, "data", ".whistle", "data folder (JetStream files, private PostgreSQL)")
	cmd.Flags().StringVar(&o.logFormat, "log-format", "auto", `"auto": on a terminal, a summary there and the JSON logs in <data>/dev.log; "json": the JSON logs on stderr`)
	return cmd
}

func serveCommand() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "serve <service>",
		Short: "Run one service alone against external NATS and PostgreSQL",
		Long: "Run one of " + strings.Join(stack.Names, ", ") + " alone. It needs WHISTLE_DATABASE_URL and WHISTLE_NATS_URL.\n" +
			"Default ports: intake 7001, dispatch 7002, response 7003, evaluation 7004, monitoring 7005.\n" +
			"`serve open311` runs the Open311 GeoReport v2 gateway (HTTP, port 7311) in front of a deployment\n" +
			"(WHISTLE_API_ADDR), with its token in WHISTLE_OPEN311_TOKEN_FILE; `serve console` the web console (HTTP, port 7320),\n" +
			"signing people in with the city's identity provider (WHISTLE_CONSOLE_OIDC_ISSUER, _CLIENT_ID, _CLIENT_SECRET,\n" +
			"_REDIRECT_URL) and minting their tokens with WHISTLE_CONSOLE_SIGNING_KEY (README, \"Configuration\").",
		Args:      cobra.ExactArgs(1),
		ValidArgs: append(slices.Clone(stack.Names), "open311", "console"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			port, ok := servePorts[name]
			if !ok {
				return fmt.Errorf("unknown service %q: choose one of %s, open311 or console", name, strings.Join(stack.Names, ", "))
			}
			if addr == "" {
				addr = port
			}
			if _, _, err := net.SplitHostPort(addr); err != nil {
				return fmt.Errorf("--addr %q: want host:port, e.g. :7001", addr)
			}
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			switch name {
			case "open311":
				return runServeOpen311(cmd.Context(), cfg, addr, cmd.OutOrStdout())
			case "console":
				return runServeConsole(cmd.Context(), cfg, addr, cmd.OutOrStdout())
			}
			return runServe(cmd.Context(), cfg, name, addr, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "gRPC address (default: the service's own port on all interfaces)")
	return cmd
}

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "whistle", version) },
	}
}
