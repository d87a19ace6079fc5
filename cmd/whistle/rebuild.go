package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/whistle-civic/whistle/services/monitoring"

	"github.com/whistle-civic/whistle/cmd/internal/stack"
)

func monitoringCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "monitoring",
		Short: "Maintain the monitoring service's read models",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "rebuild",
		Short: "Empty the monitoring read models and replay the whole event stream into them",
		Long: `Empty the monitoring read models (timelines, counts, figures, hot spots) and
replay every event JetStream holds into them, with the rules of live
projection: the result equals what live projection built. Running monitoring
services keep serving meanwhile (figures fill up as the replay goes) and catch
up with new events once it is done. Needs WHISTLE_DATABASE_URL and
WHISTLE_NATS_URL; against ` + "`whistle dev`" + ` use ` + "`whistlectl rebuild`" + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			if cfg.DatabaseURL == "" || cfg.NATSURL == "" {
				return errors.New("whistle monitoring rebuild needs WHISTLE_DATABASE_URL and WHISTLE_NATS_URL; " +
					"against `whistle dev`, run `whistlectl rebuild` instead")
			}
			log, err := cfg.logger()
			if err != nil {
				return err
			}
			bc, err := cfg.natsBus() // monitoring's own NATS user, in a monitoring pod
			if err != nil {
				return err
			}
			sc := stack.Config{DatabaseURL: cfg.DatabaseURL, Bus: bc, Log: log, PoolSize: cfg.PoolSize}
			return runRebuild(cmd.Context(), sc, cmd.OutOrStdout())
		},
	})
	return cmd
}

// runRebuild rebuilds the monitoring read models, reporting progress on out.
func runRebuild(ctx context.Context, sc stack.Config, out io.Writer) error {
	sc.Services, sc.Idle, sc.Unauthenticated = []string{monitoring.Name}, true, true // serves no API
	st, err := stack.Start(ctx, sc)
	if err != nil {
		return err
	}
	defer func() { _ = st.Shutdown(context.WithoutCancel(ctx), 10*time.Second) }()
	svc, _ := st.Service(monitoring.Name).(*monitoring.Service)
	fmt.Fprintln(out, "rebuilding the monitoring read models from the event stream…")
	r, err := svc.Rebuild(ctx, func(done, total uint64) {
		fmt.Fprintf(out, "  replayed %d of %d events (%.0f%%)\n", done, total, 100*float64(done)/float64(max(total, 1)))
	})
	if err != nil {
		return fmt.Errorf("%w (nothing is lost: run it again; live projection resumes by itself)", err)
	}
	fmt.Fprintf(out, "rebuilt: %d events replayed, %d skipped, in %s\n", r.Replayed, r.Skipped, r.Took.Round(time.Millisecond))
	return nil
}
