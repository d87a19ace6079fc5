package audit

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// ServiceName is the AuditService's full gRPC name, for health checks.
const ServiceName = "whistle.v1.AuditService"

// RegisterServer registers the AuditService on r, reading the log through
// reader. Its ListAudit is meant for administrators (auth.RoleAdmin): who may
// call it is decided by the server's authorization policy, not here.
func RegisterServer(r grpc.ServiceRegistrar, reader *Reader) {
	whistlev1.RegisterAuditServiceServer(r, &grpcServer{reader: reader})
}

// grpcServer is the AuditService API. Requests arrive validated against their
// proto annotations; errors are mapped to statuses by pkg/grpcserver (a bad
// page token is InvalidArgument).
type grpcServer struct {
	whistlev1.UnimplementedAuditServiceServer
	reader *Reader
}

// ListAudit lists audit entries, newest first. It is meant for administrators.
func (g *grpcServer) ListAudit(ctx context.Context, req *whistlev1.ListAuditRequest) (*whistlev1.ListAuditResponse, error) {
	f := Filter{
		TicketID: req.GetTicketId(), Subject: req.GetSubject(), OrgUnit: req.GetOrgUnitId(), Action: req.GetAction(),
		PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken(),
	}
	if req.After != nil {
		f.After = req.GetAfter().AsTime()
	}
	if req.Before != nil {
		f.Before = req.GetBefore().AsTime()
	}
	rows, next, err := g.reader.List(ctx, f)
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.ListAuditResponse{NextPageToken: next}
	for _, r := range rows {
		resp.Entries = append(resp.Entries, &whistlev1.AuditEntry{
			Service: r.Service, Id: r.ID, At: timestamppb.New(r.At), Subject: r.Subject, OrgUnitId: r.OrgUnit,
			Roles: r.Roles, Via: r.Via, Action: r.Action, TicketId: r.TicketID, EventId: r.EventID, Detail: r.Detail,
			RemoteAddr: r.RemoteAddr, TraceId: r.TraceID,
		})
	}
	return resp, nil
}
