package response

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/idempotency"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/pagetoken"
	"github.com/whistle-civic/whistle/pkg/policy"
	"github.com/whistle-civic/whistle/pkg/ticket"
	"github.com/whistle-civic/whistle/pkg/timeconv"
)

// grpcServer is the ResponseService API. Mutating calls with a request id
// run once per (department, request id); retries get the first response.
type grpcServer struct {
	whistlev1.UnimplementedResponseServiceServer
	svc *Service
}

func (g *grpcServer) ListInbox(ctx context.Context, req *whistlev1.ListInboxRequest) (*whistlev1.ListInboxResponse, error) {
	if err := mayRead(ctx, actListInbox, req.GetDepartmentId()); err != nil {
		return nil, err
	}
	after, err := fromPageToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	f := InboxFilter{DepartmentID: req.GetDepartmentId(), After: after, Limit: int(req.GetPageSize()),
		Category: req.GetCategory(), Area: req.GetAreaOrgUnitId(), OverdueOnly: req.GetOverdueOnly(),
		MinEscalation: req.GetMinEscalationLevel(), Role: Role(req.GetRole())}
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
	if err := g.mayReadItem(ctx, req.GetTicketId()); err != nil {
		return nil, err
	}
	it, err := g.svc.GetItem(ctx, req.GetTicketId())
	if err != nil {
		return nil, err
	}
	return &whistlev1.GetInboxItemResponse{Item: toProtoItem(it)}, nil
}

func (g *grpcServer) Accept(ctx context.Context, req *whistlev1.AcceptRequest) (*whistlev1.AcceptResponse, error) {
	return once(ctx, g, req.GetActor(), req.GetTicketId(), req.GetRequestId(), "Accept", func(ctx context.Context) (*whistlev1.AcceptResponse, error) {
		it, err := g.svc.Accept(ctx, req.GetTicketId(), fromProtoActor(req.GetActor()))
		return &whistlev1.AcceptResponse{Item: toProtoItem(it)}, err
	})
}

func (g *grpcServer) Resolve(ctx context.Context, req *whistlev1.ResolveRequest) (*whistlev1.ResolveResponse, error) {
	return once(ctx, g, req.GetActor(), req.GetTicketId(), req.GetRequestId(), "Resolve", func(ctx context.Context) (*whistlev1.ResolveResponse, error) {
		it, err := g.svc.Resolve(ctx, Resolution{TicketID: req.GetTicketId(), Result: req.GetResult(),
			Evidence: fromProtoAttachments(req.GetEvidence()), MissingAssists: req.GetMissingAssistsReason(),
			By: fromProtoActor(req.GetActor())})
		return &whistlev1.ResolveResponse{Item: toProtoItem(it)}, err
	})
}

func (g *grpcServer) Return(ctx context.Context, req *whistlev1.ReturnRequest) (*whistlev1.ReturnResponse, error) {
	return once(ctx, g, req.GetActor(), req.GetTicketId(), req.GetRequestId(), "Return", func(ctx context.Context) (*whistlev1.ReturnResponse, error) {
		it, err := g.svc.Return(ctx, req.GetTicketId(), int32(req.GetReasonCode()), req.GetNote(), fromProtoActor(req.GetActor()))
		return &whistlev1.ReturnResponse{Item: toProtoItem(it)}, err
	})
}

func (g *grpcServer) AddProgress(ctx context.Context, req *whistlev1.AddProgressRequest) (*whistlev1.AddProgressResponse, error) {
	return once(ctx, g, req.GetActor(), req.GetTicketId(), req.GetRequestId(), "AddProgress", func(ctx context.Context) (*whistlev1.AddProgressResponse, error) {
		it, err := g.svc.AddProgress(ctx, req.GetTicketId(), req.GetNote(), fromProtoAttachments(req.GetAttachments()),
			int32(req.GetClock()), fromProtoActor(req.GetActor()))
		return &whistlev1.AddProgressResponse{Item: toProtoItem(it)}, err
	})
}

func (g *grpcServer) RequestExtension(ctx context.Context, req *whistlev1.RequestExtensionRequest) (*whistlev1.RequestExtensionResponse, error) {
	return once(ctx, g, req.GetActor(), req.GetTicketId(), req.GetRequestId(), "RequestExtension", func(ctx context.Context) (*whistlev1.RequestExtensionResponse, error) {
		it, err := g.svc.RequestExtension(ctx, req.GetTicketId(), req.GetRequestedResolveDue().AsTime(), req.GetReason(),
			fromProtoActor(req.GetActor()))
		return &whistlev1.RequestExtensionResponse{Item: toProtoItem(it)}, err
	})
}

func (g *grpcServer) ReportAssist(ctx context.Context, req *whistlev1.ReportAssistRequest) (*whistlev1.ReportAssistResponse, error) {
	return once(ctx, g, req.GetActor(), req.GetTicketId(), req.GetRequestId(), "ReportAssist", func(ctx context.Context) (*whistlev1.ReportAssistResponse, error) {
		it, err := g.svc.ReportAssist(ctx, req.GetTicketId(), req.GetNote(), fromProtoAttachments(req.GetAttachments()),
			fromProtoActor(req.GetActor()))
		it.Role = RoleAssist
		return &whistlev1.ReportAssistResponse{Item: toProtoItem(it)}, err
	})
}

func (g *grpcServer) WatchInbox(req *whistlev1.WatchInboxRequest, stream whistlev1.ResponseService_WatchInboxServer) error {
	if err := mayRead(stream.Context(), actWatch, req.GetDepartmentId()); err != nil {
		return err
	}
	after, err := fromCursor(req.GetAfterCursor())
	if err != nil {
		return err
	}
	if req.GetFromNow() {
		if after, err = g.svc.LatestCursor(stream.Context(), req.GetDepartmentId()); err != nil {
			return err
		}
	}
	heartbeat := req.GetHeartbeatInterval().AsDuration()
	if heartbeat == 0 {
		heartbeat = 15 * time.Second
	}
	heartbeat = max(heartbeat, time.Second)
	return g.svc.Watch(stream.Context(), req.GetDepartmentId(), after, heartbeat,
		func(c Change) error {
			item := &whistlev1.InboxItem{}
			if err := proto.Unmarshal(c.Item, item); err != nil {
				return err
			}
			kind := whistlev1.InboxChangeKind_INBOX_CHANGE_KIND_UPSERT
			if c.Removed {
				kind = whistlev1.InboxChangeKind_INBOX_CHANGE_KIND_REMOVED
			}
			return stream.Send(&whistlev1.WatchInboxResponse{Event: &whistlev1.WatchInboxResponse_Change{Change: &whistlev1.InboxChange{
				Cursor: strconv.FormatInt(c.Cursor, 10), Kind: kind, Item: item, ChangedAt: timestamppb.New(c.ChangedAt)}}})
		},
		func(cursor int64) error {
			return stream.Send(&whistlev1.WatchInboxResponse{Event: &whistlev1.WatchInboxResponse_HeartbeatCursor{
				HeartbeatCursor: strconv.FormatInt(cursor, 10)}})
		})
}

// once authorizes a mutating call on a ticket and runs it once per (acting
// org unit, request id).
func once[T proto.Message](ctx context.Context, g *grpcServer, actor *whistlev1.Actor, ticketID, requestID, method string,
	fn func(ctx context.Context) (T, error)) (T, error) {
	if err := g.mayTouch(ctx, service+method, ticketID, actor.GetOrgUnitId()); err != nil {
		var zero T
		return zero, err
	}
	return idempotency.Do(ctx, g.svc.deps.DB, actor.GetOrgUnitId(), requestID, "response."+method, fn)
}

func fromProtoActor(a *whistlev1.Actor) Actor {
	return Actor{ID: a.GetId(), OrgUnitID: a.GetOrgUnitId(), Name: a.GetDisplayName()}
}

func toProtoItem(it Item) *whistlev1.InboxItem {
	snap := &whistlev1.Ticket{}
	_ = proto.Unmarshal(it.Snapshot, snap) // written from a decoded event
	out := &whistlev1.InboxItem{
		TicketId: it.TicketID, TicketNumber: it.Number, DepartmentId: it.DepartmentID,
		Status: whistlev1.TicketStatus(it.Status), Version: it.Version, Category: it.Category, Title: it.Title,
		Description: snap.GetDescription(), Location: snap.GetLocation(), Kind: snap.GetKind(),
		AcceptDue: timeconv.ToProto(it.AcceptDue), ResolveDue: timeconv.ToProto(it.ResolveDue),
		DispatchedAt: timeconv.ToProto(it.DispatchedAt), UpdatedAt: timeconv.ToProto(it.UpdatedAt),
		ReworkCount: it.ReworkCount, ReworkReasons: it.ReworkReasons, ReworkComment: it.ReworkComment,
		Result: it.Result, Synthetic: it.Synthetic, EscalationLevel: it.EscalationLevel, Paused: it.Paused,
		Binding: it.Binding, ExtensionRequestedDue: timeconv.ToProto(it.ExtensionDue), Role: whistlev1.InboxRole(it.Role),
		AreaIds: it.Area,
	}
	for _, a := range it.Assists {
		out.Assists = append(out.Assists, &whistlev1.AssistPart{DepartmentId: a.DepartmentID, Reported: a.Reported,
			Note: a.Note, ReportedAt: timeconv.ToProto(a.ReportedAt)})
	}
	return out
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
	if err != nil {
		return InboxCursor{}, ErrBadPageToken
	}
	if raw == "" {
		return InboxCursor{}, nil
	}
	due, id, ok := strings.Cut(raw, "|")
	t, terr := time.Parse(time.RFC3339Nano, due)
	if !ok || terr != nil || !ids.Valid(id) {
		return InboxCursor{}, ErrBadPageToken
	}
	return InboxCursor{Due: t, TicketID: id}, nil
}

// fromCursor reads a watch cursor: the number of a department's change.
func fromCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(c, 10, 64)
	if err != nil || n < 0 {
		return 0, ErrBadCursor
	}
	return n, nil
}

func (g *grpcServer) WithdrawFromInbox(ctx context.Context, req *whistlev1.WithdrawFromInboxRequest) (*whistlev1.WithdrawFromInboxResponse, error) {
	if err := policy.Touch(ctx, service+"WithdrawFromInbox", req.GetActor().GetOrgUnitId(), g.placeReported(ctx, req.GetTicketId()),
		ErrNotFound); err != nil {
		return nil, err
	}
	it, err := g.svc.Withdraw(ctx, req.GetTicketId(), req.GetReason(), fromProtoActor(req.GetActor()))
	if err != nil {
		return nil, err
	}
	return &whistlev1.WithdrawFromInboxResponse{TicketId: it.TicketID, Status: whistlev1.TicketStatus(it.Status),
		Version: it.Version}, nil
}

func (g *grpcServer) MergeFromInbox(ctx context.Context, req *whistlev1.MergeFromInboxRequest) (*whistlev1.MergeFromInboxResponse, error) {
	const action = service + "MergeFromInbox"
	if err := policy.Touch(ctx, action, req.GetActor().GetOrgUnitId(), g.place(ctx, req.GetTicketId()), ErrNotFound); err != nil {
		return nil, err
	}
	if err := policy.Read(ctx, action, g.place(ctx, req.GetOriginalTicketId()), ErrOriginalNotFound); err != nil {
		if errors.Is(err, ErrNotFound) {
			err = ErrOriginalNotFound
		}
		return nil, err
	}
	it, err := g.svc.Merge(ctx, Merging{TicketID: req.GetTicketId(), OriginalID: req.GetOriginalTicketId(), Note: req.GetNote(),
		AcrossMatters: req.GetAcrossMatters(), By: fromProtoActor(req.GetActor())})
	if err != nil {
		return nil, err
	}
	return &whistlev1.MergeFromInboxResponse{TicketId: it.TicketID, Status: whistlev1.TicketStatus(it.Status), Version: it.Version}, nil
}
