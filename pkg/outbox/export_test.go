package outbox

import "context"

// Purge deletes what r's retention lets go, as Run does every minute.
func Purge(ctx context.Context, r *Relay) {
	r.defaults()
	r.purge(ctx)
}
