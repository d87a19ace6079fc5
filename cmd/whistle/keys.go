package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/whistle-civic/whistle/pkg/evalcode"
)

// keysCommand makes the keys a deployment needs.
func keysCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Make the keys a deployment needs"}
	cmd.AddCommand(&cobra.Command{
		Use:   "evaluation-code FILE",
		Short: "Write a new key file for the residents' evaluation codes (WHISTLE_EVALUATION_CODE_KEYS)",
		Long: `Write a key file with one new random key, for WHISTLE_EVALUATION_CODE_KEYS. Intake
derives each ticket's evaluation code from the ticket id with it, and evaluation
checks codes with it: give intake and evaluation the same file, as a secret. To
rotate, put a new key on the first line and keep the old one below it until the
tickets coded with it are closed. An existing file is never overwritten.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := evalcode.Generate(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: set WHISTLE_EVALUATION_CODE_KEYS=%s for intake and evaluation\n", args[0], args[0])
			return nil
		},
	})
	return cmd
}
