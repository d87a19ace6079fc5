package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
)

// globals are the flags every command shares.
type globals struct {
	addr   string
	output string
	conn   *grpc.ClientConn
}

func rootCommand() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "whistlectl",
		Short: "Command line for Whistle (村居吹哨、未诉先办)",
		Long: `whistlectl talks to a Whistle deployment over gRPC: report whistles, work a
department's inbox, evaluate results, and follow tickets through the loop.
Start a local one with "make run" (or "whistle dev").`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if g.output != "text" && g.output != "json" {
				return fmt.Errorf("-o %q: use text or json", g.output)
			}
			return nil
		},
		PersistentPostRun: func(*cobra.Command, []string) {
			if g.conn != nil {
				_ = g.conn.Close()
			}
		},
	}
	addr := os.Getenv("WHISTLE_ADDR")
	if addr == "" {
		addr = "127.0.0.1:7000"
	}
	root.PersistentFlags().StringVar(&g.addr, "addr", addr, "Whistle's gRPC address (env WHISTLE_ADDR)")
	root.PersistentFlags().StringVarP(&g.output, "output", "o", "text", "output format: text or json (protojson)")
	root.AddCommand(reportCommand(g), showCommand(g), inboxCommand(g), acceptCommand(g), progressCommand(g),
		resolveCommand(g), returnCommand(g), extensionCommand(g), evaluateCommand(g), triageCommand(g),
		arbitrateCommand(g), explainCommand(g), catalogCommand(g), countsCommand(g), smokeCommand(g))
	return root
}

// clients dials the deployment once and returns its five APIs.
func (g *globals) clients() (loop.Clients, error) {
	if g.conn == nil {
		conn, err := grpc.NewClient(g.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return loop.Clients{}, fmt.Errorf("--addr %q: %w", g.addr, err)
		}
		g.conn = conn
	}
	return loop.NewClients(g.conn), nil
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
	default:
		return fmt.Errorf("%s: %s", st.Code(), msg)
	}
}
