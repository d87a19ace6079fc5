package open311

import (
	"context"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// period reads start_date and end_date (ISO 8601 with a zone): by default
// the last 90 days; one alone reaches 90 days from it; at most 90 days.
func (g *Gateway) period(form map[string][]string) (time.Time, time.Time, error) {
	parse := func(key string) (time.Time, error) {
		v := first(form, key)
		if v == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return time.Time{}, badRequest("%s %q is not a W3C date-time with its zone, e.g. 2026-12-01T00:00:00+08:00", key, v)
		}
		return t, nil
	}
	start, err := parse("start_date")
	if err != nil {
		return start, start, err
	}
	end, err := parse("end_date")
	if err != nil {
		return start, end, err
	}
	switch {
	case start.IsZero() && end.IsZero():
		end = g.cfg.Now().Add(time.Second)
		start = end.Add(-MaxPeriod)
	case start.IsZero():
		start = end.Add(-MaxPeriod)
	case end.IsZero():
		end = start.Add(MaxPeriod)
	}
	if !start.Before(end) {
		return start, end, badRequest("start_date must be before end_date")
	}
	if end.Sub(start) > MaxPeriod {
		return start, end, badRequest("start_date and end_date are more than 90 days apart: ask for 90 days at most, page by page")
	}
	return start, end, nil
}

// intParam reads a whole number from lo to hi, def when absent.
func intParam(form map[string][]string, key string, def, lo, hi int) (int, error) {
	v := first(form, key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, badRequest("%s %q is not a whole number from %d to %d", key, v, lo, hi)
	}
	return n, nil
}

// listRequests is GET requests: by service_request_id (comma separated, the
// other filters then ignored, as the standard says), or by service_code,
// status and period, newest first, a page at a time (page, page_size).
func (g *Gateway) listRequests(ctx context.Context, c call) (any, error) {
	cat, err := g.catalogNow(ctx)
	if err != nil {
		return nil, err
	}
	if ids := first(c.form, "service_request_id"); ids != "" {
		return g.requestsByID(ctx, cat, c.format, ids)
	}
	req, page, err := g.listQuery(cat, c.form)
	if err != nil {
		return nil, err
	}
	for skip := (page - 1) * int(req.GetPageSize()); ; skip -= int(req.GetPageSize()) {
		resp, err := g.cfg.Client.ListTickets(ctx, req)
		if err != nil {
			return nil, err
		}
		if skip <= 0 || resp.GetNextPageToken() == "" {
			out := []request{}
			if skip <= 0 {
				for _, t := range resp.GetTickets() {
					out = append(out, cat.toRequest(t))
				}
			}
			return requests(c.format, out), nil
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// listQuery reads the filters of GET requests.
func (g *Gateway) listQuery(cat *catalog, form map[string][]string) (*whistlev1.ListTicketsRequest, int, error) {
	start, end, err := g.period(form)
	if err != nil {
		return nil, 0, err
	}
	size, err := intParam(form, "page_size", DefaultPageSize, 1, MaxPageSize)
	if err != nil {
		return nil, 0, err
	}
	page, err := intParam(form, "page", 1, 1, MaxSkipped/size+1)
	if err != nil {
		return nil, 0, err
	}
	req := &whistlev1.ListTicketsRequest{ReportedAfter: timestamppb.New(start), ReportedBefore: timestamppb.New(end), PageSize: int32(size)}
	if code := first(form, "service_code"); code != "" {
		if strings.Contains(code, ",") {
			return nil, 0, badRequest("service_code %q names several services: ask for one at a time", code)
		}
		if _, ok := cat.byCode[code]; !ok {
			return nil, 0, notFound("service_code %q is not in the catalog: GET services lists them", code)
		}
		req.Category = code
	}
	if req.Statuses, err = statusesOf(first(form, "status")); err != nil {
		return nil, 0, err
	}
	return req, page, nil
}

// requestsByID returns the requests named, those that exist, in order.
func (g *Gateway) requestsByID(ctx context.Context, cat *catalog, f format, ids string) (any, error) {
	list := strings.Split(ids, ",")
	if len(list) > MaxRequestIDs {
		return nil, badRequest("%d service_request_ids: ask for at most %d at a time", len(list), MaxRequestIDs)
	}
	out := []request{}
	for _, id := range list {
		t, err := g.cfg.Client.GetTicket(ctx, strings.TrimSpace(id))
		if err != nil {
			if notFoundTicket(id, err) == err {
				return nil, err // not a "no such ticket"
			}
			continue
		}
		if !t.GetSynthetic() {
			out = append(out, cat.toRequest(t))
		}
	}
	return requests(f, out), nil
}
