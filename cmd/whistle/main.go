// Command whistle runs Whistle's services: `whistle dev` runs all five in one
// process on embedded defaults; `whistle serve <service>` runs one service
// alone against external NATS JetStream and PostgreSQL.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "whistle:", err)
		}
		os.Exit(1)
	}
}

// run executes the command line args.
func run(ctx context.Context, args []string) error {
	cmd := rootCommand()
	cmd.SetArgs(args)
	return cmd.ExecuteContext(ctx)
}
