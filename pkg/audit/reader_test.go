package audit_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/apperr"
	"github.com/whistle-civic/whistle/pkg/audit"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/postgres"
)

// seeded is an audit log over two services, written with chosen times.
type seeded struct {
	reader   *audit.Reader
	ticketA  string
	ticketB  string
	t0       time.Time
	newest   []string // every row's "service/action" in page order
	dispatch *postgres.DB
}

// seed writes rows into dispatch's and response's audit tables, at chosen
// times: ties between the schemas and within one are broken by service, then
// id, both descending.
func seed(t *testing.T) seeded {
	t.Helper()
	dbURL := pgtest.NewDatabase(t)
	dispatch := pgtest.OpenIn(t, dbURL, "dispatch", nil)
	response := pgtest.OpenIn(t, dbURL, "response", nil)
	s := seeded{reader: audit.NewReader(dispatch.Pool, "response", "dispatch", "response"), ticketA: ids.New(),
		ticketB: ids.New(), t0: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC), dispatch: dispatch}
	put := func(db *postgres.DB, minute int, subject, org, action, ticketID string) {
		t.Helper()
		var tid any
		if ticketID != "" {
			tid = ticketID
		}
		_, err := db.Pool.Exec(context.Background(), `INSERT INTO audit (at, subject, org_unit_id, roles, via, action, ticket_id, event_id)
			VALUES ($1, $2, $3, '{admin}', 'jwt', $4, $5, $6)`, s.t0.Add(time.Duration(minute)*time.Minute), subject, org, action, tid, ids.New())
		if err != nil {
			t.Fatal(err)
		}
	}
	put(dispatch, 1, "intake-bot", "xc-hd-dj", "dispatched", s.ticketA)
	put(response, 2, "u-1", "xc-water", "accepted", s.ticketA)
	put(dispatch, 3, "admin-1", "xc", "catalog.activate", "")
	put(response, 4, "u-1", "xc-water", "progressed", s.ticketA)
	put(dispatch, 5, "u-9", "xc-hd-dj", "arbitrated", s.ticketB)
	put(response, 5, "u-1", "xc-water", "returned", s.ticketB)
	put(response, 5, "u-1", "xc-water", "resolved", s.ticketA) // same time, same schema: the later id first
	put(response, 6, "u-2", "xc-urban", "accepted", s.ticketB)
	s.newest = []string{"response/accepted", "response/resolved", "response/returned", "dispatch/arbitrated",
		"response/progressed", "dispatch/catalog.activate", "response/accepted", "dispatch/dispatched"}
	return s
}

func names(rs []audit.Row) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Service+"/"+r.Action)
	}
	return out
}

func TestReaderListsEveryServiceNewestFirst(t *testing.T) {
	t.Parallel()
	s := seed(t)
	ctx := context.Background()
	if got := s.reader.Schemas(); !slices.Equal(got, []string{"dispatch", "response"}) {
		t.Fatalf("Schemas() = %v", got)
	}
	all, next, err := s.reader.List(ctx, audit.Filter{})
	if err != nil || next != "" {
		t.Fatalf("List = %v, next %q", err, next)
	}
	if got := names(all); !slices.Equal(got, s.newest) {
		t.Fatalf("order\n got %v\nwant %v", got, s.newest)
	}
	for i := 1; i < len(all); i++ {
		if all[i].At.After(all[i-1].At) {
			t.Fatalf("row %d is newer than row %d", i, i-1)
		}
	}

	for _, size := range []int{1, 2, 3, 7} {
		var paged []audit.Row
		token, pages := "", 0
		for {
			page, next, err := s.reader.List(ctx, audit.Filter{PageSize: size, PageToken: token})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > size || (next != "" && len(page) != size) {
				t.Fatalf("page size %d: page of %d, next %q", size, len(page), next)
			}
			paged, pages = append(paged, page...), pages+1
			if token = next; token == "" {
				break
			}
			if pages > len(s.newest) {
				t.Fatalf("page size %d: paging does not end", size)
			}
		}
		if got := names(paged); !slices.Equal(got, s.newest) {
			t.Fatalf("page size %d:\n got %v\nwant %v", size, got, s.newest)
		}
		for i, r := range paged {
			if !equalRow(r, all[i]) {
				t.Fatalf("page size %d, row %d: %+v, want %+v", size, i, r, all[i])
			}
		}
	}
}

func TestReaderFilters(t *testing.T) {
	t.Parallel()
	s := seed(t)
	at := func(minute int) time.Time { return s.t0.Add(time.Duration(minute) * time.Minute) }
	tests := []struct {
		f    audit.Filter
		want []string
	}{
		{audit.Filter{TicketID: s.ticketA}, []string{"response/resolved", "response/progressed", "response/accepted", "dispatch/dispatched"}},
		{audit.Filter{TicketID: s.ticketA, PageSize: 2}, []string{"response/resolved", "response/progressed"}},
		{audit.Filter{Subject: "u-1"}, []string{"response/resolved", "response/returned", "response/progressed", "response/accepted"}},
		{audit.Filter{OrgUnit: "xc-hd-dj"}, []string{"dispatch/arbitrated", "dispatch/dispatched"}},
		{audit.Filter{Action: "accepted"}, []string{"response/accepted", "response/accepted"}},
		{audit.Filter{After: at(3), Before: at(5)}, []string{"response/progressed", "dispatch/catalog.activate"}},
		{audit.Filter{After: at(5)}, []string{"response/accepted", "response/resolved", "response/returned", "dispatch/arbitrated"}},
		{audit.Filter{TicketID: s.ticketB, Subject: "u-1", Before: at(6)}, []string{"response/returned"}},
		{audit.Filter{TicketID: ids.New()}, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.f), func(t *testing.T) {
			got, _, err := s.reader.List(context.Background(), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(names(got), tt.want) {
				t.Fatalf("got %v, want %v", names(got), tt.want)
			}
		})
	}
	// The filters hold on every page.
	page1, next, err := s.reader.List(context.Background(), audit.Filter{Subject: "u-1", PageSize: 3})
	if err != nil || next == "" || len(page1) != 3 {
		t.Fatalf("page 1: %v %q %v", names(page1), next, err)
	}
	page2, next, err := s.reader.List(context.Background(), audit.Filter{Subject: "u-1", PageSize: 3, PageToken: next})
	if err != nil || next != "" || !slices.Equal(names(page2), []string{"response/accepted"}) {
		t.Fatalf("page 2: %v %q %v", names(page2), next, err)
	}
}

func TestReaderRefusesBadInput(t *testing.T) {
	t.Parallel()
	s := seed(t)
	for _, f := range []audit.Filter{
		{PageToken: "not a token"},
		{PageToken: "djE6MTIz"}, // "v1:123": a token without service and id
		{TicketID: "HH-20261126-00042"},
	} {
		_, _, err := s.reader.List(context.Background(), f)
		if apperr.KindOf(err) != apperr.InvalidArgument {
			t.Errorf("List(%+v) = %v, want an InvalidArgument error", f, err)
		}
	}
	_, _, err := s.reader.List(context.Background(), audit.Filter{PageToken: "%%%"})
	if !errors.Is(err, audit.ErrBadPageToken) {
		t.Errorf("bad token: %v", err)
	}
	// A reader of no schema lists nothing; one of a missing schema fails.
	if got, next, err := audit.NewReader(s.dispatch.Pool).List(context.Background(), audit.Filter{}); err != nil || len(got) != 0 || next != "" {
		t.Errorf("reader of no schema: %v %q %v", got, next, err)
	}
	if _, _, err := audit.NewReader(s.dispatch.Pool, "dispatch", `no "such" schema`).List(context.Background(), audit.Filter{}); err == nil {
		t.Error("a reader of a missing schema listed")
	}
}
