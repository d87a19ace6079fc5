package intake

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/policy"
	"github.com/whistle-civic/whistle/pkg/webhook"
)

// The WebhookService's actions, as the policy table names them.
const (
	actAddWebhook      = "/whistle.v1.WebhookService/AddWebhook"
	actListWebhooks    = "/whistle.v1.WebhookService/ListWebhooks"
	actRemoveWebhook   = "/whistle.v1.WebhookService/RemoveWebhook"
	actTestWebhook     = "/whistle.v1.WebhookService/TestWebhook"
	actWebhookFailures = "/whistle.v1.WebhookService/ListWebhookFailures"
)

// webhookServer is the WebhookService API, served by intake. Requests
// arrive validated against their proto annotations.
type webhookServer struct {
	whistlev1.UnimplementedWebhookServiceServer
	svc *Service
}

// mayChange authorizes a change to the subscriptions, made in the caller's own name.
func mayChange(ctx context.Context, action string, actor *whistlev1.Actor) error {
	if err := policy.Authorize(ctx, action, policy.Resource{}); err != nil {
		return err
	}
	return policy.ActingAs(ctx, actor.GetOrgUnitId())
}

func (w *webhookServer) AddWebhook(ctx context.Context, req *whistlev1.AddWebhookRequest) (*whistlev1.AddWebhookResponse, error) {
	if err := mayChange(ctx, actAddWebhook, req.GetActor()); err != nil {
		return nil, err
	}
	sub, err := w.svc.AddWebhook(ctx, NewWebhook{URL: req.GetUrl(), EventTypes: req.GetEventTypes(), Units: req.GetOrgUnitIds(),
		Description: req.GetDescription(), Secret: req.GetSecret(), By: req.GetActor().GetId()})
	if err != nil {
		return nil, err
	}
	return &whistlev1.AddWebhookResponse{Webhook: toProtoWebhook(sub), Secret: sub.Secret}, nil
}

func (w *webhookServer) ListWebhooks(ctx context.Context, _ *whistlev1.ListWebhooksRequest) (*whistlev1.ListWebhooksResponse, error) {
	if err := policy.Authorize(ctx, actListWebhooks, policy.Resource{}); err != nil {
		return nil, err
	}
	subs, err := w.svc.ListWebhooks(ctx)
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.ListWebhooksResponse{}
	for _, sub := range subs {
		resp.Webhooks = append(resp.Webhooks, toProtoWebhook(sub))
	}
	return resp, nil
}

func (w *webhookServer) RemoveWebhook(ctx context.Context, req *whistlev1.RemoveWebhookRequest) (*whistlev1.RemoveWebhookResponse, error) {
	if err := mayChange(ctx, actRemoveWebhook, req.GetActor()); err != nil {
		return nil, err
	}
	sub, err := w.svc.RemoveWebhook(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &whistlev1.RemoveWebhookResponse{Webhook: toProtoWebhook(sub)}, nil
}

func (w *webhookServer) TestWebhook(ctx context.Context, req *whistlev1.TestWebhookRequest) (*whistlev1.TestWebhookResponse, error) {
	if err := mayChange(ctx, actTestWebhook, req.GetActor()); err != nil {
		return nil, err
	}
	res, id, err := w.svc.TestWebhook(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.TestWebhookResponse{Delivered: res.Outcome == webhook.Delivered, HttpStatus: int32(res.Status),
		TookMs: res.Took.Milliseconds(), EventId: id}
	if res.Err != nil {
		resp.Error = res.Err.Error()
	}
	return resp, nil
}

func (w *webhookServer) ListWebhookFailures(ctx context.Context, req *whistlev1.ListWebhookFailuresRequest) (*whistlev1.ListWebhookFailuresResponse, error) {
	if err := policy.Authorize(ctx, actWebhookFailures, policy.Resource{}); err != nil {
		return nil, err
	}
	fs, next, err := w.svc.WebhookFailures(ctx, req.GetWebhookId(), req.GetBeforeDeliveryId(), int(req.GetPageSize()))
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.ListWebhookFailuresResponse{NextBeforeDeliveryId: next}
	for _, f := range fs {
		resp.Failures = append(resp.Failures, &whistlev1.WebhookFailure{DeliveryId: f.ID, WebhookId: f.WebhookID, EventId: f.EventID,
			EventType: f.EventType, TicketId: f.Ticket, Attempts: int32(f.Attempts), FirstAttemptAt: timestamppb.New(f.FirstTry),
			FailedAt: timestamppb.New(f.FailedAt), HttpStatus: int32(f.Status), Error: f.Error})
	}
	return resp, nil
}

func toProtoWebhook(s Subscription) *whistlev1.Webhook {
	return &whistlev1.Webhook{Id: s.ID, Url: s.URL, EventTypes: s.EventTypes, OrgUnitIds: s.Units, Description: s.Description,
		SecretHint: secretHint(s.Secret), CreatedAt: timestamppb.New(s.CreatedAt), CreatedBy: s.CreatedBy, Pending: s.Pending, Failed: s.Failed}
}
