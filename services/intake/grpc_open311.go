package intake

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/policy"
)

// The Open311KeyService's actions, as the policy table names them.
const (
	actAddOpen311Key    = "/whistle.v1.Open311KeyService/AddOpen311Key"
	actListOpen311Keys  = "/whistle.v1.Open311KeyService/ListOpen311Keys"
	actRevokeOpen311Key = "/whistle.v1.Open311KeyService/RevokeOpen311Key"
)

// open311KeyServer is the Open311KeyService API, served by intake. Requests
// arrive validated against their proto annotations.
type open311KeyServer struct {
	whistlev1.UnimplementedOpen311KeyServiceServer
	svc *Service
}

func (o *open311KeyServer) AddOpen311Key(ctx context.Context, req *whistlev1.AddOpen311KeyRequest) (*whistlev1.AddOpen311KeyResponse, error) {
	if err := mayChange(ctx, actAddOpen311Key, req.GetActor()); err != nil {
		return nil, err
	}
	k, secret, err := o.svc.AddAPIKey(ctx, NewAPIKey{Name: req.GetName(), OrgUnitID: req.GetOrgUnitId(), Source: Source(req.GetSource()),
		RatePerMinute: int(req.GetRatePerMinute()), By: req.GetActor().GetId()})
	if err != nil {
		return nil, err
	}
	return &whistlev1.AddOpen311KeyResponse{Key: toProtoAPIKey(k), Secret: secret}, nil
}

func (o *open311KeyServer) ListOpen311Keys(ctx context.Context, req *whistlev1.ListOpen311KeysRequest) (*whistlev1.ListOpen311KeysResponse, error) {
	if err := policy.Authorize(ctx, actListOpen311Keys, policy.Resource{}); err != nil {
		return nil, err
	}
	ks, err := o.svc.ListAPIKeys(ctx, req.GetIncludeRevoked())
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.ListOpen311KeysResponse{}
	for _, k := range ks {
		resp.Keys = append(resp.Keys, toProtoAPIKey(k))
	}
	return resp, nil
}

func (o *open311KeyServer) RevokeOpen311Key(ctx context.Context, req *whistlev1.RevokeOpen311KeyRequest) (*whistlev1.RevokeOpen311KeyResponse, error) {
	if err := mayChange(ctx, actRevokeOpen311Key, req.GetActor()); err != nil {
		return nil, err
	}
	k, err := o.svc.RevokeAPIKey(ctx, req.GetId(), req.GetActor().GetId())
	if err != nil {
		return nil, err
	}
	return &whistlev1.RevokeOpen311KeyResponse{Key: toProtoAPIKey(k)}, nil
}

func toProtoAPIKey(k APIKey) *whistlev1.Open311Key {
	out := &whistlev1.Open311Key{Id: k.ID, Name: k.Name, OrgUnitId: k.OrgUnitID, Source: whistlev1.Source(k.Source),
		RatePerMinute: int32(k.RatePerMinute), Prefix: k.Prefix, CreatedAt: timestamppb.New(k.CreatedAt), CreatedBy: k.CreatedBy}
	if !k.RevokedAt.IsZero() {
		out.RevokedAt = timestamppb.New(k.RevokedAt)
	}
	return out
}
