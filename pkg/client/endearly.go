package client

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/apperr"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// Withdraw takes a whistle back (撤回) for the unit that reported it, with a
// reason, until a department has accepted it; the ticket becomes CANCELLED.
// It asks whichever service holds the ticket: dispatch while it waits for
// routing or in triage, the response service while it waits in a
// department's inbox (a ticket moves between them as it is dispatched or
// returned, so Withdraw follows it, a few hops at most). After acceptance
// the error is FailedPrecondition, saying what to do instead.
func (c *Client) Withdraw(ctx context.Context, ticketID, reason string, actor *whistlev1.Actor) (whistlev1.TicketStatus, error) {
	return c.endEarly(ctx, ticketID,
		func(ctx context.Context) (whistlev1.TicketStatus, error) {
			resp, err := c.dispatch.Withdraw(ctx, &whistlev1.WithdrawRequest{TicketId: ticketID, Reason: reason, Actor: actor})
			return resp.GetAssignment().GetStatus(), err
		},
		func(ctx context.Context) (whistlev1.TicketStatus, error) {
			resp, err := c.response.WithdrawFromInbox(ctx, &whistlev1.WithdrawFromInboxRequest{TicketId: ticketID,
				Reason: reason, Actor: actor})
			return resp.GetStatus(), err
		})
}

// Merge links a duplicate to its original (同一事项) as a street officer (or
// above) of both tickets' area, while no department has accepted the
// duplicate; it becomes MERGED. Like Withdraw, it asks whichever service
// holds the duplicate. acrossMatters allows an original of another matter
// type.
func (c *Client) Merge(ctx context.Context, dupID, originalID, note string, acrossMatters bool,
	actor *whistlev1.Actor) (whistlev1.TicketStatus, error) {
	return c.endEarly(ctx, dupID,
		func(ctx context.Context) (whistlev1.TicketStatus, error) {
			resp, err := c.dispatch.Merge(ctx, &whistlev1.MergeRequest{TicketId: dupID, OriginalTicketId: originalID,
				Note: note, AcrossMatters: acrossMatters, Actor: actor})
			return resp.GetAssignment().GetStatus(), err
		},
		func(ctx context.Context) (whistlev1.TicketStatus, error) {
			resp, err := c.response.MergeFromInbox(ctx, &whistlev1.MergeFromInboxRequest{TicketId: dupID,
				OriginalTicketId: originalID, Note: note, AcrossMatters: acrossMatters, Actor: actor})
			return resp.GetStatus(), err
		})
}

// maxHops bounds how often endEarly follows a ticket between its holders.
const maxHops = 4

// arrivalWait is how long endEarly waits, all told, for a ticket just
// reported or dispatched to reach the service that holds it next.
const arrivalWait = 5 * time.Second

// endEarly makes a call that ends a ticket before work starts at the
// service holding it: dispatch first (it sees every ticket), then wherever
// the answer says the ticket is. A ticket not arrived yet where it is
// going (NotFound just after a report or a dispatch) is asked for again,
// with growing waits, for up to arrivalWait.
func (c *Client) endEarly(ctx context.Context, ticketID string, atDispatch, atResponse func(ctx context.Context) (whistlev1.TicketStatus, error)) (whistlev1.TicketStatus, error) {
	call, wait, deadline := atDispatch, 50*time.Millisecond, time.Now().Add(arrivalWait)
	for hop := 0; ; {
		st, err := call(ctx)
		switch reason := reasonOf(err); {
		case err == nil:
			return st, nil
		case reason == apperr.ReasonHeldByResponse && hop < maxHops:
			call, hop = atResponse, hop+1
			continue
		case reason == apperr.ReasonHeldByDispatch && hop < maxHops:
			call, hop = atDispatch, hop+1
			continue
		case status.Code(err) == codes.NotFound && time.Now().Before(deadline):
			// just reported or dispatched: on its way to the service asked
		default:
			return st, fmt.Errorf("ticket %s: %w", ticketID, err)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// reasonOf returns the google.rpc.ErrorInfo reason of a Whistle status error.
func reasonOf(err error) string {
	st, ok := status.FromError(err)
	if !ok || err == nil {
		return ""
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == apperr.Domain {
			return info.GetReason()
		}
	}
	return ""
}
