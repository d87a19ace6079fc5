package loop

import (
	"context"
	"errors"
	"io"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// ImportOne checks the import of one finished historical ticket (a dry run:
// nothing is written), through IntakeService.ImportTickets.
func ImportOne(ctx context.Context, c Clients) (*whistlev1.ImportTicketsResponse, error) {
	stream, err := c.Intake.ImportTickets(ctx)
	if err != nil {
		return nil, err
	}
	at := time.Date(2025, 11, 3, 9, 0, 0, 0, time.UTC)
	ts := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(at.Add(d)) }
	err = stream.Send(&whistlev1.ImportTicketsRequest{DryRun: true, Tickets: []*whistlev1.ImportedTicket{{
		ExternalId: "check-1", Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY, Source: whistlev1.Source_SOURCE_HOTLINE_12345,
		Category: "road_damage", Description: "a pothole", Location: &whistlev1.Location{GridId: "xc-hd-dj-g01"},
		Reporter: &whistlev1.Reporter{OrgUnitId: "xc-hd-dj-g01"}, ReportedAt: ts(0),
		History: []*whistlev1.ImportedStep{{Action: whistlev1.ImportedAction_IMPORTED_ACTION_CANCELLED, At: ts(time.Minute), Withdrawn: true}},
	}}})
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return stream.CloseAndRecv()
}
