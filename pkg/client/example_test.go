package client_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/whistle-civic/whistle/pkg/client"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// A department handler's loop: watch the department's inbox, accept what
// arrives, resolve it once the work is done.
func Example_departmentHandler() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Each caller has its own token (whistle dev writes some for sample users).
	token := func(user string) string {
		b, err := os.ReadFile(filepath.Join(os.Getenv("WHISTLE_TOKENS"), user+".jwt"))
		if err != nil {
			log.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	gridWorker, err := client.Dial(ctx, os.Getenv("WHISTLE_ADDR"), client.WithToken(token("reporter")))
	if err != nil {
		log.Fatal(err)
	}
	defer gridWorker.Close()
	c, err := client.Dial(ctx, os.Getenv("WHISTLE_ADDR"), client.WithToken(token("handler")))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// A grid worker blows the whistle (usually another system does this).
	ticket, _, err := gridWorker.Report(ctx, &whistlev1.ReportRequest{
		Kind:        whistlev1.WhistleKind_WHISTLE_KIND_DAILY,
		Source:      whistlev1.Source_SOURCE_GRID_PATROL,
		Category:    "street_light_out",
		Description: "The lamp at the east gate has been dark for three nights",
		Location:    &whistlev1.Location{GridId: "xc-hd-dj-g01"},
		Reporter:    &whistlev1.Reporter{OrgUnitId: "xc-hd-dj-g01"},
	})
	if err != nil {
		log.Fatal(err)
	}

	// The urban management department's handler works its inbox.
	me := &whistlev1.Actor{Id: "handler-7", OrgUnitId: "xc-urban", DisplayName: "Li Wei"}
	err = c.Watch(ctx, &whistlev1.WatchInboxRequest{DepartmentId: "xc-urban"}, func(ch *whistlev1.InboxChange) error {
		item := ch.GetItem()
		if item.GetTicketId() != ticket.GetId() {
			return nil // someone else's ticket in this example
		}
		switch item.GetStatus() {
		case whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED:
			fmt.Println("new in the inbox:", item.GetCategory())
			_, err := c.Accept(ctx, &whistlev1.AcceptRequest{TicketId: item.GetTicketId(), Actor: me})
			return err
		case whistlev1.TicketStatus_TICKET_STATUS_ACCEPTED:
			fmt.Println("accepted; resolving")
			_, err := c.Resolve(ctx, &whistlev1.ResolveRequest{TicketId: item.GetTicketId(), Actor: me,
				Result: "Replaced the lamp and the fuse"})
			return err
		case whistlev1.TicketStatus_TICKET_STATUS_RESOLVED:
			fmt.Println("resolved; waiting for the community's evaluation")
			return client.ErrStop
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// new in the inbox: street_light_out
	// accepted; resolving
	// resolved; waiting for the community's evaluation
}
