package client

import (
	"context"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// Report blows the whistle and returns the ticket, and whether it was created
// now (false: the idempotency key had been used for this very report). A
// request without an idempotency key gets a new one, so retries of this call
// never make a second ticket; set your own key to make retries across
// process restarts safe too.
func (c *Client) Report(ctx context.Context, req *whistlev1.ReportRequest) (*whistlev1.Ticket, bool, error) {
	req.IdempotencyKey = requestID(req.GetIdempotencyKey())
	resp, err := c.intake.Report(ctx, req)
	return resp.GetTicket(), resp.GetCreated(), err
}

// GetTicket returns a ticket by id or number.
func (c *Client) GetTicket(ctx context.Context, idOrNumber string) (*whistlev1.Ticket, error) {
	resp, err := c.intake.GetTicket(ctx, &whistlev1.GetTicketRequest{Ticket: idOrNumber})
	return resp.GetTicket(), err
}

// ListTickets lists reported tickets, newest first, one page at a time.
func (c *Client) ListTickets(ctx context.Context, req *whistlev1.ListTicketsRequest) (*whistlev1.ListTicketsResponse, error) {
	return c.intake.ListTickets(ctx, req)
}

// ListInbox lists a department's inbox, soonest deadline first, one page at a time.
func (c *Client) ListInbox(ctx context.Context, req *whistlev1.ListInboxRequest) (*whistlev1.ListInboxResponse, error) {
	return c.response.ListInbox(ctx, req)
}

// GetInboxItem returns one ticket's inbox item.
func (c *Client) GetInboxItem(ctx context.Context, ticketID string) (*whistlev1.InboxItem, error) {
	resp, err := c.response.GetInboxItem(ctx, &whistlev1.GetInboxItemRequest{TicketId: ticketID})
	return resp.GetItem(), err
}

// Accept reports the lead department in (报到/应哨).
func (c *Client) Accept(ctx context.Context, req *whistlev1.AcceptRequest) (*whistlev1.InboxItem, error) {
	req.RequestId = requestID(req.GetRequestId())
	resp, err := c.response.Accept(ctx, req)
	return resp.GetItem(), err
}

// Resolve records the lead department's result (办结).
func (c *Client) Resolve(ctx context.Context, req *whistlev1.ResolveRequest) (*whistlev1.InboxItem, error) {
	req.RequestId = requestID(req.GetRequestId())
	resp, err := c.response.Resolve(ctx, req)
	return resp.GetItem(), err
}

// Return refuses an assignment that is not the department's (退单).
func (c *Client) Return(ctx context.Context, req *whistlev1.ReturnRequest) (*whistlev1.InboxItem, error) {
	req.RequestId = requestID(req.GetRequestId())
	resp, err := c.response.Return(ctx, req)
	return resp.GetItem(), err
}

// AddProgress records a note or evidence, and may pause or resume the resolve clock.
func (c *Client) AddProgress(ctx context.Context, req *whistlev1.AddProgressRequest) (*whistlev1.InboxItem, error) {
	req.RequestId = requestID(req.GetRequestId())
	resp, err := c.response.AddProgress(ctx, req)
	return resp.GetItem(), err
}

// RequestExtension asks the street for more time (延期).
func (c *Client) RequestExtension(ctx context.Context, req *whistlev1.RequestExtensionRequest) (*whistlev1.InboxItem, error) {
	req.RequestId = requestID(req.GetRequestId())
	resp, err := c.response.RequestExtension(ctx, req)
	return resp.GetItem(), err
}

// ReportAssist reports an assisting department's part done.
func (c *Client) ReportAssist(ctx context.Context, req *whistlev1.ReportAssistRequest) (*whistlev1.InboxItem, error) {
	req.RequestId = requestID(req.GetRequestId())
	resp, err := c.response.ReportAssist(ctx, req)
	return resp.GetItem(), err
}
