package intake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/telemetry"
)

// ImportedTicket is a finished ticket of another system, with its history.
type ImportedTicket struct {
	// Line is its line in the import file (or its place in the stream).
	Line       int64
	ExternalID string
	Kind       Kind
	Source     Source
	Category   string
	Title      string
	// Description is what the reporter saw.
	Description string
	Location    Location
	Reporter    Reporter
	ReportedAt  time.Time
	History     []Step
	// Content identifies what the line says, to tell an import again of the
	// same ticket from one that says something else under its external id.
	Content string
}

// ImportOptions say how an import treats bad tickets.
type ImportOptions struct {
	// SkipBad imports the good tickets when some are bad; without it one bad
	// ticket imports nothing.
	SkipBad bool
	// DryRun checks every ticket and writes nothing.
	DryRun bool
}

// ImportResult says what an import did.
type ImportResult struct {
	Imported, AlreadyImported, Bad int64
	// Problems are the first MaxImportProblems problems, in the order received.
	Problems []Problem
	DryRun   bool
}

// The bounds of one import.
const (
	// MaxImportTickets is how many tickets one import takes.
	MaxImportTickets = 200_000
	// MaxImportProblems is how many problems an import reports (it counts them all).
	MaxImportProblems = 1000
)

// importStore is what an import needs from storage; writes join the
// transaction ctx carries.
type importStore interface {
	// ImportedContent returns the content of the tickets imported before
	// under these external ids, by external id.
	ImportedContent(ctx context.Context, externalIDs []string) (map[string]string, error)
	// CreateImported stores new tickets with their imported events and
	// returns the external ids it stored (those imported meanwhile are left out).
	CreateImported(ctx context.Context, ts []importedRow) ([]string, error)
	// ReserveDays reserves n ticket numbers of each day (YYYYMMDD) and returns
	// the last one reserved of each.
	ReserveDays(ctx context.Context, days map[string]int64) (map[string]int64, error)
	// MarkImportedRepeats marks the closed tickets that a report repeated,
	// where either is one of ids (see Likeness: in the same grid), with
	// their historical repeated events.
	MarkImportedRepeats(ctx context.Context, ids []string, window time.Duration) error
}

// importedRow is a ticket to store with the history it raises.
type importedRow struct {
	Ticket     Ticket
	ExternalID string
	Life       []Happening
	Area       []string
}

// errImportRolledBack undoes an import's transaction on purpose.
var errImportRolledBack = errors.New("import rolled back")

// ImportTickets brings in the tickets next returns, batch by batch until
// io.EOF, in one transaction: each is checked (its units in the org tree,
// its history against the lifecycle), then stored as a finished ticket with
// one imported event that carries its history, marked historical. A ticket
// imported before with the same content counts as already imported; with
// other content it is a problem. With a problem and without SkipBad, or with
// DryRun, nothing is written. More than MaxImportTickets fail with
// ErrImportTooLarge.
func (s *Service) ImportTickets(ctx context.Context, opts ImportOptions, next func() ([]ImportedTicket, error)) (ImportResult, error) {
	ctx, span := s.tracer.Start(ctx, "intake.import")
	defer span.End()
	res := ImportResult{DryRun: opts.DryRun}
	seen := 0
	err := s.deps.DB.InTx(ctx, func(ctx context.Context, _ pgx.Tx) error {
		for {
			batch, err := next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			if seen += len(batch); seen > MaxImportTickets {
				return ErrImportTooLarge
			}
			write := !opts.DryRun && (opts.SkipBad || res.Bad == 0)
			if err := s.importBatch(ctx, batch, write, &res); err != nil {
				return err
			}
		}
		if opts.DryRun || (res.Bad > 0 && !opts.SkipBad) {
			return errImportRolledBack
		}
		return nil
	})
	if errors.Is(err, errImportRolledBack) {
		if !opts.DryRun {
			res.Imported = 0 // a dry run says how many would have come in
		}
		err = nil
	}
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: %w", err)
	}
	s.log.InfoContext(ctx, "tickets imported", "imported", res.Imported, "already_imported", res.AlreadyImported,
		"bad", res.Bad, "dry_run", opts.DryRun, "skip_bad", opts.SkipBad)
	return res, nil
}

// importBatch checks a batch and, when write is set, stores its good tickets.
func (s *Service) importBatch(ctx context.Context, batch []ImportedTicket, write bool, res *ImportResult) error {
	before, err := s.store.ImportedContent(ctx, externalIDs(batch))
	if err != nil {
		return err
	}
	tree := s.deps.Tree()
	level := func(id string) string { l, _ := tree.Level(ctx, id); return l }
	var rows []importedRow
	inBatch := map[string]bool{}
	for _, it := range batch {
		if content, ok := before[it.ExternalID]; ok || inBatch[it.ExternalID] {
			if ok && content == it.Content {
				res.AlreadyImported++
			} else {
				res.problem(Problem{Line: it.Line, ExternalID: it.ExternalID, Field: "external_id", Reason: "already imported with other content: " +
					"an import changes no ticket; give this one its own external_id, or leave it out"})
			}
			continue
		}
		row, p := s.checkImported(ctx, it, level)
		if p != nil {
			p.Line, p.ExternalID = it.Line, it.ExternalID
			res.problem(*p)
			continue
		}
		inBatch[it.ExternalID] = true
		rows = append(rows, row)
	}
	if !write || len(rows) == 0 {
		res.Imported += int64(len(rows))
		return nil
	}
	if err := s.number(ctx, rows); err != nil {
		return err
	}
	stored, err := s.store.CreateImported(ctx, rows)
	if err != nil {
		return err
	}
	if err := s.store.MarkImportedRepeats(ctx, storedIDs(rows, stored), s.likeness.RepeatWindow); err != nil {
		return err
	}
	res.Imported += int64(len(stored))
	res.AlreadyImported += int64(len(rows) - len(stored)) // imported by another import meanwhile
	return nil
}

// storedIDs are the ticket ids of the rows whose external ids were stored.
func storedIDs(rows []importedRow, stored []string) []string {
	var out []string
	for _, r := range rows {
		if slices.Contains(stored, r.ExternalID) {
			out = append(out, r.Ticket.ID)
		}
	}
	return out
}

// checkImported checks one ticket against the org tree and the lifecycle and
// returns it ready to store (without its number).
func (s *Service) checkImported(ctx context.Context, it ImportedTicket, level unitLevels) (importedRow, *Problem) {
	now := s.clock.Now()
	switch {
	case strings.TrimSpace(it.Description) == "":
		return importedRow{}, &Problem{Field: "description", Reason: ErrBlank.Error()}
	case !it.ReportedAt.Before(now):
		return importedRow{}, &Problem{Field: "reported_at", Reason: "is not in the past: only what already happened is imported"}
	case it.ReportedAt.Before(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)):
		return importedRow{}, &Problem{Field: "reported_at", Reason: "is before 2000-01-01: check the file's dates"}
	case level(it.Reporter.OrgUnitID) == "" && it.Source != SourceProactive: // raised by the old system itself
		return importedRow{}, &Problem{Field: "reporter.org_unit_id", Reason: fmt.Sprintf("%q is not in the active org tree: map the old system's units to the catalog's", it.Reporter.OrgUnitID)}
	case level(it.Location.GridID) != "grid":
		return importedRow{}, &Problem{Field: "location.grid_id", Reason: fmt.Sprintf("%q is not a grid of the active org tree: an imported ticket names the grid it lies in", it.Location.GridID)}
	}
	area, err := s.deps.Tree().Path(ctx, it.Location.GridID)
	if err != nil || len(area) != 5 {
		return importedRow{}, &Problem{Field: "location.grid_id", Reason: fmt.Sprintf("grid %q does not lie under a community, street, district and city", it.Location.GridID)}
	}
	life, p := replay(it.ReportedAt, it.History, now, level)
	if p != nil {
		return importedRow{}, p
	}
	t := Ticket{
		ID: ids.NewAt(it.ReportedAt), Kind: it.Kind, Source: it.Source, Category: it.Category,
		Title: strings.TrimSpace(it.Title), Description: strings.TrimSpace(it.Description), Location: it.Location, Reporter: it.Reporter,
		ReportedAt: it.ReportedAt, IdempotencyKey: "import:" + it.ExternalID, Fingerprint: it.Content,
		TraceParent: telemetry.TraceParent(ctx), Departments: departmentsOf(life),
	}
	return importedRow{Ticket: t, ExternalID: it.ExternalID, Life: life, Area: area}, nil
}

// number gives each ticket a number of the day it was reported, reserving
// them per day with one statement.
func (s *Service) number(ctx context.Context, rows []importedRow) error {
	days := map[string]int64{}
	for _, r := range rows {
		days[s.numbers.dayOf(r.Ticket.ReportedAt)]++
	}
	last, err := s.store.ReserveDays(ctx, days)
	if err != nil {
		return fmt.Errorf("reserve ticket numbers: %w", err)
	}
	for i := range rows {
		day := s.numbers.dayOf(rows[i].Ticket.ReportedAt)
		rows[i].Ticket.Number = s.numbers.format(day, last[day]-days[day]+1)
		days[day]--
	}
	return nil
}

// departmentsOf lists the departments a ticket was assigned to.
func departmentsOf(life []Happening) []string {
	var out []string
	for _, h := range life {
		if h.Step == nil || (h.Type != "dispatched" && h.Type != "arbitrated") {
			continue
		}
		if !slices.Contains(out, h.Step.Department) {
			out = append(out, h.Step.Department)
		}
	}
	return out
}

func externalIDs(batch []ImportedTicket) []string {
	out := make([]string, len(batch))
	for i, it := range batch {
		out[i] = it.ExternalID
	}
	return out
}

func (r *ImportResult) problem(p Problem) {
	r.Bad++
	if len(r.Problems) < MaxImportProblems {
		r.Problems = append(r.Problems, p)
	}
}

// contentOf hashes what an imported line says (its canonical encoding).
func contentOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
