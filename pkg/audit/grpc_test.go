package audit_test

import (
	"context"
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
