package response

import (
	"context"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/pagetoken"
	"github.com/whistle-civic/whistle/pkg/ticket"
	"github.com/whistle-civic/whistle/pkg/timeconv"
)

// grpcServer is the ResponseService API.
type grpcServer struct {
	whistlev1.UnimplementedResponseServiceServer
	svc *Service
}

func (g *grpcServer) ListInbox(ctx context.Context, req *whistlev1.ListInboxRequest) (*whistlev1.ListInboxResponse, error) {
	after, err := fromPageToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	f := InboxFilter{DepartmentID: req.GetDepartmentId(), After: after, Limit: int(req.GetPageSize())}
	for _, st := range req.GetStatuses() {
		f.Statuses = append(f.Statuses, ticket.Status(st))
	}
	items, next, err := g.svc.ListInbox(ctx, f)
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.ListInboxResponse{NextPageToken: toPageToken(next)}
	for _, it := range items {
		resp.Items = append(resp.Items, toProtoItem(it))
	}
	return resp, nil
}

func (g *grpcServer) GetInboxItem(ctx context.Context, req *whistlev1.GetInboxItemRequest) (*whistlev1.GetInboxItemResponse, error) {
	it, err := g.svc.GetItem(ctx, req.GetTicketId())
	if err != nil {
		return nil, err
	}
	return &whistlev1.GetInboxItemResponse{Item: toProtoItem(it)}, nil
}

func (g *grpcServer) Accept(ctx context.Context, req *whistlev1.AcceptRequest) (*whistlev1.AcceptResponse, error) {
	it, err := g.svc.Accept(ctx, req.GetTicketId(), fromProtoActor(req.GetActor()))
	if err != nil {
		return nil, err
	}
	return &whistlev1.AcceptResponse{Item: toProtoItem(it)}, nil
}

func (g *grpcServer) Resolve(ctx context.Context, req *whistlev1.ResolveRequest) (*whistlev1.ResolveResponse, error) {
	it, err := g.svc.Resolve(ctx, req.GetTicketId(), fromProtoActor(req.GetActor()), req.GetResult())
	if err != nil {
		return nil, err
	}
	return &whistlev1.ResolveResponse{Item: toProtoItem(it)}, nil
}

func (g *grpcServer) Return(ctx context.Context, req *whistlev1.ReturnRequest) (*whistlev1.ReturnResponse, error) {
	it, err := g.svc.Return(ctx, req.GetTicketId(), int32(req.GetReasonCode()), req.GetNote(), fromProtoActor(req.GetActor()))
	if err != nil {
		return nil, err
	}
	return &whistlev1.ReturnResponse{Item: toProtoItem(it)}, nil
}

func (g *grpcServer) AddProgress(ctx context.Context, req *whistlev1.AddProgressRequest) (*whistlev1.AddProgressResponse, error) {
	var atts []Attachment
	for _, a := range req.GetAttachments() {
		atts = append(atts, Attachment{Name: a.GetName(), Size: a.GetSizeBytes(), SHA256: a.GetSha256(), URL: a.GetUrl()})
	}
	it, err := g.svc.AddProgress(ctx, req.GetTicketId(), req.GetNote(), atts, int32(req.GetClock()), fromProtoActor(req.GetActor()))
	if err != nil {
		return nil, err
	}
	return &whistlev1.AddProgressResponse{Item: toProtoItem(it)}, nil
}

func (g *grpcServer) RequestExtension(ctx context.Context, req *whistlev1.RequestExtensionRequest) (*whistlev1.RequestExtensionResponse, error) {
	it, err := g.svc.RequestExtension(ctx, req.GetTicketId(), req.GetRequestedResolveDue().AsTime(), req.GetReason(),
		fromProtoActor(req.GetActor()))
	if err != nil {
		return nil, err
	}
	return &whistlev1.RequestExtensionResponse{Item: toProtoItem(it)}, nil
}

func fromProtoActor(a *whistlev1.Actor) Actor {
	return Actor{ID: a.GetId(), OrgUnitID: a.GetOrgUnitId(), Name: a.GetDisplayName()}
}

func toProtoItem(it Item) *whistlev1.InboxItem {
	snap := &whistlev1.Ticket{}
	_ = proto.Unmarshal(it.Snapshot, snap) // written from a decoded event
	return &whistlev1.InboxItem{
		TicketId: it.TicketID, TicketNumber: it.Number, DepartmentId: it.DepartmentID,
		Status: whistlev1.TicketStatus(it.Status), Version: it.Version, Category: it.Category, Title: it.Title,
		Description: snap.GetDescription(), Location: snap.GetLocation(), Kind: snap.GetKind(),
		AcceptDue: timeconv.ToProto(it.AcceptDue), ResolveDue: timeconv.ToProto(it.ResolveDue),
		DispatchedAt: timestamppb.New(it.DispatchedAt), UpdatedAt: timestamppb.New(it.UpdatedAt),
		ReworkCount: it.ReworkCount, ReworkReasons: it.ReworkReasons, ReworkComment: it.ReworkComment,
		Result: it.Result, Synthetic: it.Synthetic, EscalationLevel: it.EscalationLevel, Paused: it.Paused,
		Binding: it.Binding, ExtensionRequestedDue: timeconv.ToProto(it.ExtensionDue),
	}
}

// Inbox page tokens encode the cursor "<due in RFC 3339 nanoseconds>|<ticket id>".
func toPageToken(c *InboxCursor) string {
	if c == nil {
		return ""
	}
	return pagetoken.Encode(c.Due.UTC().Format(time.RFC3339Nano) + "|" + c.TicketID)
}

func fromPageToken(token string) (InboxCursor, error) {
	raw, err := pagetoken.Decode(token)
	if err != nil || raw == "" {
		if err != nil {
			return InboxCursor{}, ErrBadPageToken
		}
		return InboxCursor{}, nil
	}
	due, id, ok := strings.Cut(raw, "|")
	t, terr := time.Parse(time.RFC3339Nano, due)
	if !ok || terr != nil || !ids.Valid(id) {
		return InboxCursor{}, ErrBadPageToken
	}
	return InboxCursor{Due: t, TicketID: id}, nil
}
