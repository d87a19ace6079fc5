package bus

import (
	"slices"

	"github.com/whistle-civic/whistle/pkg/events"
)

// A service's NATS user may publish only what the service itself needs, so
// that no service can speak for another: intake's credentials cannot
// announce an org tree, which every service decides its scopes by.
//
// What a service publishes is its own event types (events.Produces), the
// dead-letter subjects (any consumer dead-letters what it gives up on), acks
// and the JetStream API requests it makes on the two Whistle streams:
// looking them up, creating them when missing, its durable and ordered
// consumers, and reading and deleting dead letters. Only dispatch may update
// the streams' settings. The API is not allowed as a whole ("$JS.API.>"):
// with it any service could change the events stream (a subject transform
// turning its own subject into whistle.v1.org_tree, say) or delete it.

// JetStream subjects outside any stream's API.
const (
	// AckSubjects are the replies that acknowledge JetStream messages.
	AckSubjects = "$JS.ACK.>"
	// InboxSubjects are the replies to requests.
	InboxSubjects = "_INBOX.>"
	// AccountInfo is the JetStream account's information.
	AccountInfo = "$JS.API.INFO"
)

// UpdatesStreams reports whether a service's user may update the streams'
// settings (Config.KeepStreamSettings is set for all others): dispatch only.
func UpdatesStreams(service string) bool { return service == events.Dispatch }

// PublishAllow returns the subjects a service's NATS user may publish to on
// the streams and subjects cfg names (its Stream and Prefix, defaults
// applied), sorted. An unknown service gets the JetStream subjects only,
// and no event subject.
func PublishAllow(service string, cfg Config) []string {
	cfg.defaults()
	dlq := cfg.Stream + "_DLQ"
	out := []string{AccountInfo, AckSubjects, InboxSubjects, cfg.Prefix + ".dlq.>",
		"$JS.API.STREAM.MSG.GET." + dlq, "$JS.API.STREAM.MSG.DELETE." + dlq}
	for _, s := range []string{cfg.Stream, dlq} {
		out = append(out, "$JS.API.STREAM.INFO."+s, "$JS.API.STREAM.CREATE."+s)
		if UpdatesStreams(service) {
			out = append(out, "$JS.API.STREAM.UPDATE."+s)
		}
	}
	out = append(out, ConsumerAPI(cfg.Stream)...)
	for _, typ := range events.Produces(service) {
		out = append(out, cfg.Prefix+".v1."+typ)
	}
	slices.Sort(out)
	return out
}

// ConsumerAPI are the JetStream API subjects of every consumer of one
// stream: create, update, look up, delete, list, and fetch messages.
func ConsumerAPI(stream string) []string {
	return []string{
		"$JS.API.CONSUMER.*." + stream,          // NAMES.<stream>, LIST.<stream>, CREATE.<stream> (ephemeral)
		"$JS.API.CONSUMER.*." + stream + ".>",   // CREATE.<stream>.<name>[.<filter>], INFO…, DELETE…
		"$JS.API.CONSUMER.*.*." + stream + ".>", // DURABLE.CREATE.<stream>.<name>, MSG.NEXT.<stream>.<name>
	}
}

// OperatorPublishAllow is what the operators' own NATS user may publish: the
// whole JetStream API (stream backups and restores, removing consumers) but
// no event subject, so that it cannot speak for a service.
func OperatorPublishAllow() []string {
	return []string{"$JS.API.>", "$JS.SNAPSHOT.>", AckSubjects, InboxSubjects}
}
