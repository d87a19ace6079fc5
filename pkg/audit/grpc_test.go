package audit_test

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/audit"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
	"github.com/whistle-civic/whistle/pkg/grpcserver/grpctest"
)

func TestListAuditOverGRPC(t *testing.T) {
	t.Parallel()
	s := seed(t)
	conn := grpctest.Serve(t, grpcserver.Options{}, func(r grpc.ServiceRegistrar) { audit.RegisterServer(r, s.reader) })
	c := whistlev1.NewAuditServiceClient(conn)
	ctx := context.Background()

	var got []string
	req := &whistlev1.ListAuditRequest{TicketId: s.ticketA, PageSize: 3}
	for {
		resp, err := c.ListAudit(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range resp.GetEntries() {
			got = append(got, e.GetService()+"/"+e.GetAction())
			if e.GetTicketId() != s.ticketA || e.GetId() == 0 || e.GetAt() == nil || e.GetEventId() == "" ||
				!slices.Equal(e.GetRoles(), []string{"admin"}) || e.GetVia() != "jwt" {
				t.Errorf("entry %v", e)
			}
		}
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	want := []string{"response/resolved", "response/progressed", "response/accepted", "dispatch/dispatched"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}

	resp, err := c.ListAudit(ctx, &whistlev1.ListAuditRequest{
		Subject: "u-1", After: timestamppb.New(s.t0.Add(4 * time.Minute)), Before: timestamppb.New(s.t0.Add(6 * time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetEntries()) != 3 || resp.GetEntries()[0].GetOrgUnitId() != "xc-water" || resp.GetNextPageToken() != "" {
		t.Fatalf("filtered: %v", resp)
	}

	_, err = c.ListAudit(ctx, &whistlev1.ListAuditRequest{PageToken: "not-a-token"})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "page_token is not valid") {
		t.Fatalf("bad page token: %v", err)
	}
	for name, bad := range map[string]*whistlev1.ListAuditRequest{
		"bad page token":    {PageToken: "not-a-token"},
		"ticket not a uuid": {TicketId: "HH-20261126-00042"},
		"page too large":    {PageSize: 501},
		"negative page":     {PageSize: -1},
		"before after":      {After: timestamppb.New(s.t0), Before: timestamppb.New(s.t0)},
		"long action":       {Action: string(make([]byte, 65))},
	} {
		_, err := c.ListAudit(ctx, bad)
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
}

// Times out of the window, in the filters or in a forged page token, are
// InvalidArgument naming what is wrong, never Internal.
func TestListAuditRefusesTimesOutOfTheWindow(t *testing.T) {
	t.Parallel()
	s := seed(t)
	conn := grpctest.Serve(t, grpcserver.Options{}, func(r grpc.ServiceRegistrar) { audit.RegisterServer(r, s.reader) })
	c := whistlev1.NewAuditServiceClient(conn)
	token := func(cursor string) string { return base64.RawURLEncoding.EncodeToString([]byte("v1:" + cursor)) }
	for _, tt := range []struct {
		name string
		req  *whistlev1.ListAuditRequest
		want string
	}{
		{"after in 9999", &whistlev1.ListAuditRequest{After: timestamppb.New(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC))}, "after"},
		{"after beyond 9999", &whistlev1.ListAuditRequest{After: &timestamppb.Timestamp{Seconds: 1 << 40}}, "after"},
		{"before 2000", &whistlev1.ListAuditRequest{Before: timestamppb.New(time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC))}, "before"},
		{"a token from before the year 1", &whistlev1.ListAuditRequest{PageToken: token("-9223372036854775808:response:1")}, "page_token"},
		{"a token from after the year 294,000", &whistlev1.ListAuditRequest{PageToken: token("9223372036854775807:response:1")}, "page_token"},
		{"an action of other characters", &whistlev1.ListAuditRequest{Action: "catalog activate"}, "action"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.ListAudit(context.Background(), tt.req)
			grpctest.WantInvalidArgument(t, err, tt.want)
		})
	}
}
