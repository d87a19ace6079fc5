package intake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/telemetry"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// ReportInput is a whistle to accept. The API layer has already checked each
// field's shape; Report checks what needs the whole report.
type ReportInput struct {
	IdempotencyKey   string
	Kind             Kind
	Source           Source
	Category         string
	Title            string
	Description      string
	Location         Location
	Reporter         Reporter
	Synthetic        bool
	RelatedTicketIDs []string
	// FollowOriginal asks not to create a ticket when likely duplicates
	// exist (Receipt.Followed names the one to follow instead).
	FollowOriginal bool
	// PhotoIDs attach files the reporting unit uploaded and has not attached
	// yet (ErrUnknownPhoto otherwise).
	PhotoIDs []string
	// Facts answer the matter's attributes; kept as given.
	Facts []Fact
	// Sees tells which likely duplicates the reporter may be told of (those
	// it may read). Default (nil): all.
	Sees func(Candidate) bool
}

// reportStore is what Report needs from storage.
type reportStore interface {
	// FindByKey returns the ticket reported with this key from this org unit, or ErrNotFound.
	FindByKey(ctx context.Context, reporterOrgUnit, key string) (Ticket, error)
	// Create stores a new ticket and its reported event in one transaction. It
	// returns errDuplicateKey if a ticket with the same key exists.
	Create(ctx context.Context, t Ticket) error
}

// Receipt is what a reporter learns beyond the ticket.
type Receipt struct {
	// Created is false when the ticket already existed for the key.
	Created bool
	// Code is the one-time code the reporting resident judges the result
	// with: given only when the ticket is created, and only with Config.Codes.
	Code string
	// Duplicates are the open tickets that likely report the same matter,
	// nearest first (none for proactive tickets).
	Duplicates []Candidate
	// Followed is the ticket to follow instead, when FollowOriginal found
	// one: then nothing was created.
	Followed string
}

// maxOffered is how many likely duplicates a report is told of.
const maxOffered = 5

// Report accepts a whistle and returns its ticket and, for a ticket created
// now, the one-time code the reporting resident judges the result with. When
// the same key and report were seen before, the earlier ticket is returned
// with no code and nothing changes. A new whistle is refused with ErrBusy
// while the reports already accepted are too far behind (Config.Backpressure).
func (s *Service) Report(ctx context.Context, in ReportInput) (Ticket, Receipt, error) {
	return s.report(ctx, in, true)
}

// report is Report; when limited is false, backpressure does not apply.
func (s *Service) report(ctx context.Context, in ReportInput, limited bool) (Ticket, Receipt, error) {
	in.Description = strings.TrimSpace(in.Description)
	in.Title = strings.TrimSpace(in.Title)
	if in.Description == "" {
		return Ticket{}, Receipt{}, fmt.Errorf("report: %w", ErrBlank)
	}
	fp := fingerprint(in)
	if t, ok, err := s.existing(ctx, in, fp); ok || err != nil {
		if err != nil || !limited {
			return t, Receipt{}, err
		}
		dups, err := s.duplicates(ctx, t, in.Sees, maxOffered)
		return t, Receipt{Duplicates: dups}, err
	}
	var dups []Candidate
	var repeats []string
	if limited {
		if err := s.pressure.check(); err != nil {
			return Ticket{}, Receipt{}, fmt.Errorf("report: %w", err)
		}
		var err error
		if dups, repeats, err = s.alike(ctx, Ticket{Category: in.Category, Location: in.Location, Synthetic: in.Synthetic, ReportedAt: s.clock.Now()},
			in.Sees, maxOffered, in.Source != SourceProactive); err != nil {
			return Ticket{}, Receipt{}, fmt.Errorf("report: %w", err)
		}
		if in.FollowOriginal && len(dups) > 0 {
			return Ticket{}, Receipt{Duplicates: dups, Followed: dups[0].TicketID}, nil
		}
	}
	ctx, span := s.tracer.Start(ctx, "intake.report")
	defer span.End()
	number, err := s.numbers.Next(ctx, s.clock.Now())
	if err != nil {
		return Ticket{}, Receipt{}, fmt.Errorf("report: %w", err)
	}
	t := Ticket{
		ID: ids.New(), Number: number, Kind: in.Kind, Source: in.Source, Category: in.Category,
		Title: in.Title, Description: in.Description, Location: in.Location, Reporter: in.Reporter,
		Synthetic: in.Synthetic, ReportedAt: s.clock.Now(), IdempotencyKey: in.IdempotencyKey,
		Fingerprint: fp, TraceParent: telemetry.TraceParent(ctx), RelatedTicketIDs: in.RelatedTicketIDs, PhotoIDs: in.PhotoIDs,
		Facts: in.Facts, Status: ticket.Reported, Repeats: repeats,
	}
	t.UpdatedAt = t.ReportedAt
	if err := s.store.Create(ctx, t); err != nil {
		if err == errDuplicateKey { // a concurrent retry won the race
			if t, ok, err := s.existing(ctx, in, fp); ok || err != nil {
				return t, Receipt{Duplicates: dups}, err
			}
		}
		return Ticket{}, Receipt{}, fmt.Errorf("report: %w", err)
	}
	s.log.InfoContext(ctx, "whistle reported", "ticket", t.ID, "number", t.Number, "category", t.Category,
		"reporter", t.Reporter.OrgUnitID, "synthetic", t.Synthetic)
	return t, Receipt{Created: true, Code: s.evaluationCode(t.ID), Duplicates: dups}, nil
}

// evaluationCode is the ticket's one-time evaluation code ("" without keys).
func (s *Service) evaluationCode(ticketID string) string {
	if s.codes == nil {
		return ""
	}
	return s.codes.Code(ticketID)
}

// existing returns the ticket already reported with in's key, if any; a key
// reused for a different report is an error.
func (s *Service) existing(ctx context.Context, in ReportInput, fp string) (Ticket, bool, error) {
	t, err := s.store.FindByKey(ctx, in.Reporter.OrgUnitID, in.IdempotencyKey)
	if err == ErrNotFound {
		return Ticket{}, false, nil
	}
	if err != nil {
		return Ticket{}, false, fmt.Errorf("report: %w", err)
	}
	if t.Fingerprint != fp {
		return Ticket{}, false, fmt.Errorf("report with key %q (ticket %s): %w", in.IdempotencyKey, t.Number, ErrKeyReused)
	}
	return t, true, nil
}

// fingerprint hashes every field of the report, so that a retry (same
// fields) can be told from a different report under the same key.
func fingerprint(in ReportInput) string {
	h := sha256.New()
	for _, f := range []string{
		strconv.Itoa(int(in.Kind)), strconv.Itoa(int(in.Source)), in.Category, in.Title, in.Description,
		in.Location.GridID, strconv.FormatBool(in.Location.HasCoordinates),
		strconv.FormatFloat(in.Location.Latitude, 'g', -1, 64), strconv.FormatFloat(in.Location.Longitude, 'g', -1, 64),
		in.Location.Address, in.Reporter.OrgUnitID, in.Reporter.Name, in.Reporter.Phone,
		strconv.FormatBool(in.Synthetic), strings.Join(in.RelatedTicketIDs, ","),
	} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	for _, f := range in.PhotoIDs { // after the fields above, so that a report without photos keeps its fingerprint
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	for _, f := range in.Facts { // the same for a report without facts
		h.Write([]byte("fact:" + f.Code + "=" + f.Value))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
