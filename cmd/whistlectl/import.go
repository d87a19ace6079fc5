package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"buf.build/go/protovalidate"
	"github.com/spf13/cobra"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// importProgressEvery is how often import reports its progress.
var importProgressEvery = time.Second

// importBatch is how many tickets one message of an import carries.
const importBatch = 500

// badLine is a line of an import file that cannot be imported.
type badLine struct {
	line         int64
	field, cause string
}

func importCommand(g *globals) *cobra.Command {
	var skipBad, dryRun bool
	cmd := &cobra.Command{
		Use:   "import <tickets.jsonl>",
		Short: "Bring in finished tickets of another system with their original times (docs/import.md)",
		Long: `import reads a JSON Lines file, one finished ticket a line (whistle.v1.ImportedTicket
in protobuf JSON; docs/import.schema.json describes it, deploy/seed/import-sample.jsonl is an
example), checks every line and sends them to intake, which brings them in in one transaction.
A line whose external_id was imported before with the same content changes nothing, so the same
file may be imported again. Every bad line is reported (line, field, reason); then nothing is
imported unless --skip-bad says to import the good ones. Progress (lines sent, rate, time left)
goes to stderr every second.`,
		Example: `  whistlectl import history-2025.jsonl --dry-run
  whistlectl import history-2025.jsonl
  whistlectl import history-2025.jsonl --skip-bad`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tickets, bad, err := readImport(args[0])
			if err != nil {
				return err
			}
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, err := g.actCity(cmd.Context(), auth.RoleAdmin)
			if err != nil {
				return err
			}
			errOut := cmd.ErrOrStderr()
			// Lines bad in themselves import nothing without --skip-bad: the rest
			// is then only checked, so that every problem is reported at once.
			check := dryRun || (len(bad) > 0 && !skipBad)
			stream, err := c.Intake.ImportTickets(ctx)
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			var sent atomic.Int64
			stop := importProgress(errOut, &sent, int64(len(tickets)), time.Now())
			for i := 0; i < len(tickets); i += importBatch {
				batch := tickets[i:min(i+importBatch, len(tickets))]
				if err := stream.Send(&whistlev1.ImportTicketsRequest{Tickets: batch, SkipBad: skipBad, DryRun: check}); err != nil {
					break // the server ended the call: CloseAndRecv says why
				}
				sent.Add(int64(len(batch)))
			}
			var resp *whistlev1.ImportTicketsResponse
			if len(tickets) > 0 {
				resp, err = stream.CloseAndRecv()
			} else {
				resp = &whistlev1.ImportTicketsResponse{DryRun: check}
			}
			stop()
			read := len(tickets) + countLines(bad)
			bad = append(bad, serverProblems(resp, err)...)
			if err != nil && status.Code(err) != codes.InvalidArgument {
				return fmt.Errorf("import: %w", err)
			}
			return reportImport(cmd.OutOrStdout(), resp, bad, read, dryRun, skipBad)
		},
	}
	cmd.Flags().BoolVar(&skipBad, "skip-bad", false, "import the good lines when some are bad")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check every line, import nothing")
	return cmd
}

// readImport reads an import file: the tickets of its good lines, each with
// its line number, and what is wrong with the others (not JSON of an
// ImportedTicket, or outside the bounds the API sets).
func readImport(path string) ([]*whistlev1.ImportedTicket, []badLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	validator, err := protovalidate.New()
	if err != nil {
		return nil, nil, err
	}
	var tickets []*whistlev1.ImportedTicket
	var bad []badLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for n := int64(1); sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "//") {
			continue
		}
		t := &whistlev1.ImportedTicket{}
		if err := protojson.Unmarshal([]byte(text), t); err != nil {
			bad = append(bad, badLine{line: n, field: "json", cause: err.Error()})
			continue
		}
		t.Line = n
		if err := validator.Validate(t); err != nil {
			var ve *protovalidate.ValidationError
			if errors.As(err, &ve) {
				for _, v := range ve.Violations {
					bad = append(bad, badLine{line: n, field: protovalidate.FieldPathString(v.Proto.GetField()), cause: v.Proto.GetMessage()})
				}
				continue
			}
			return nil, nil, err
		}
		tickets = append(tickets, t)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("import: read %s: %w (a line may hold up to 4 MiB)", path, err)
	}
	return tickets, bad, nil
}

// serverProblems are the problems intake found: listed in its response, or
// in the BadRequest of its refusal.
func serverProblems(resp *whistlev1.ImportTicketsResponse, err error) []badLine {
	var out []badLine
	for _, p := range resp.GetProblems() {
		out = append(out, badLine{line: p.GetLine(), field: p.GetField(), cause: p.GetReason()})
	}
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, badLine{field: v.GetField(), cause: v.GetDescription()})
			}
		}
	}
	return out
}

// reportImport prints what the import did and fails when it imported nothing it should have.
func reportImport(out io.Writer, resp *whistlev1.ImportTicketsResponse, bad []badLine, lines int, dryRun, skipBad bool) error {
	for _, b := range bad {
		if b.line > 0 {
			fmt.Fprintf(out, "line %d: %s: %s\n", b.line, b.field, b.cause)
		} else {
			fmt.Fprintf(out, "%s: %s\n", b.field, b.cause)
		}
	}
	switch {
	case dryRun:
		fmt.Fprintf(out, "checked %d lines: %d would be imported, %d imported already, %d bad; nothing was written (--dry-run)\n",
			lines, resp.GetImported(), resp.GetAlreadyImported(), len(bad))
	case len(bad) > 0 && !skipBad:
		return fmt.Errorf("%d bad lines: nothing was imported; fix them, or import the good ones alone with --skip-bad", len(bad))
	default:
		fmt.Fprintf(out, "imported %d tickets, %d imported already, %d bad lines skipped\n",
			resp.GetImported(), resp.GetAlreadyImported(), len(bad))
	}
	return nil
}

// countLines counts the lines bad in themselves (those whistlectl found
// before sending); call it before adding the server's problems.
func countLines(bad []badLine) int {
	lines := map[int64]bool{}
	for _, b := range bad {
		if b.line > 0 {
			lines[b.line] = true
		}
	}
	return len(lines)
}

// importProgress says on w every importProgressEvery how many of total
// tickets were sent, at what rate, and how long the rest should take, and
// once more when stopped: a short import shows its figures too.
func importProgress(w io.Writer, sent *atomic.Int64, total int64, start time.Time) (stop func()) {
	line := func() string {
		n, took := sent.Load(), time.Since(start)
		rate := float64(n) / took.Seconds()
		eta := "—"
		if rate > 0 {
			eta = shortDuration(time.Duration(float64(total-n) / rate * float64(time.Second)))
		}
		return fmt.Sprintf("import: %d/%d sent (%.0f%%), %.0f tickets/s, %s left", n, total, 100*float64(n)/float64(max(total, 1)), rate, eta)
	}
	stopTicking := ticking(w, importProgressEvery, line)
	return func() { stopTicking(); fmt.Fprintln(w, line()) }
}
