package console

import (
	"encoding/json"
	"net/http"

	"google.golang.org/grpc/status"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// watch is GET /watch: MonitoringService.WatchEvents as the signed-in user,
// one JSON line a projected event ({"ticket_id", "event_type"}, or
// {"heartbeat": true}), until the page goes away. The page follows it with
// fetch (which sends the Authorization header) and refreshes its boards
// when something happens.
func (c *Console) watch(w http.ResponseWriter, r *http.Request) {
	ctx := asUser(r)
	stream, err := whistlev1.NewMonitoringServiceClient(c.cfg.Conn).WatchEvents(ctx, &whistlev1.WatchEventsRequest{})
	if err != nil {
		st := status.Convert(err)
		writeError(w, httpStatus(st.Code()), st.Message())
		return
	}
	first, err := stream.Recv() // the first message says the watch is live, or why not
	if err != nil {
		st := status.Convert(err)
		writeError(w, httpStatus(st.Code()), st.Message())
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson; charset=utf-8")
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	for msg := first; ; {
		line := map[string]any{"heartbeat": true}
		if !msg.GetHeartbeat() {
			line = map[string]any{"ticket_id": msg.GetTicketId(), "event_type": msg.GetEntry().GetEventType()}
		}
		if enc.Encode(line) != nil || rc.Flush() != nil {
			return
		}
		if msg, err = stream.Recv(); err != nil {
			return // the page reconnects
		}
	}
}
