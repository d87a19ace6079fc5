// Command whistlectl is the command line for Whistle: report whistles, work a
// department's inbox, evaluate results, read timelines and counts, and push
// synthetic tickets through the whole loop (smoke).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "whistlectl:", err)
		os.Exit(1)
	}
}

// run executes one command line, writing results to stdout and progress to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd, g := rootCommand()
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	return explain(cmd.ExecuteContext(ctx), g.creds)
}
