package open311

import (
	"context"
	"encoding/xml"

	"google.golang.org/protobuf/types/known/timestamppb"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// update is a status change as the updates extension shows it (mySociety's
// GET servicerequestupdates, which FixMyStreet reads).
type update struct {
	XMLName          xml.Name `json:"-" xml:"request_update"`
	UpdateID         string   `json:"update_id" xml:"update_id"`
	ServiceRequestID string   `json:"service_request_id" xml:"service_request_id"`
	Status           string   `json:"status" xml:"status"`
	UpdatedDatetime  string   `json:"updated_datetime" xml:"updated_datetime"`
	Description      string   `json:"description" xml:"description"`
	MediaURL         string   `json:"media_url" xml:"media_url"`
}

type updatesXML struct {
	XMLName xml.Name `xml:"service_request_updates"`
	Updates []update `xml:"request_update"`
}

// updates is GET servicerequestupdates: every status change in the period
// (start_date, end_date: at most 90 days), oldest first, a page at a time.
func (g *Gateway) updates(ctx context.Context, c call) (any, error) {
	cat, err := g.catalogNow(ctx)
	if err != nil {
		return nil, err
	}
	start, end, err := g.period(c.form)
	if err != nil {
		return nil, err
	}
	size, err := intParam(c.form, "page_size", 100, 1, 1000)
	if err != nil {
		return nil, err
	}
	page, err := intParam(c.form, "page", 1, 1, MaxSkipped/size+1)
	if err != nil {
		return nil, err
	}
	req := &whistlev1.ListUpdatesRequest{After: timestamppb.New(start), Before: timestamppb.New(end), TransitionsOnly: true,
		PageSize: int32(size)}
	out := []update{}
	for ; page > 0; page-- {
		resp, err := g.monitor.ListUpdates(ctx, req)
		if err != nil {
			return nil, err
		}
		if page == 1 {
			for _, u := range resp.GetUpdates() {
				e := u.GetEntry()
				out = append(out, update{UpdateID: e.GetEventId(), ServiceRequestID: u.GetTicketNumber(),
					Status: states[e.GetStatus()].extended, UpdatedDatetime: w3c(e.GetOccurredAt().AsTime(), cat.loc),
					Description: e.GetSummary()})
			}
		}
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	if c.format == formatXML {
		return updatesXML{Updates: out}, nil
	}
	return out, nil
}
