package main

import (
	"log/slog"
	"path/filepath"

	"github.com/nats-io/nats.go"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/natsserver"

	"github.com/whistle-civic/whistle/cmd/internal/bench"
	"github.com/whistle-civic/whistle/cmd/internal/stack"
)

// operatorUser is the NATS user `whistle dev` makes for the operators' own
// tools (the nats CLI): the whole JetStream API, no event subject.
const operatorUser = "operator"

// devNATS is the in-process NATS server of `whistle dev` and the
// credentials of its users.
type devNATS struct {
	srv *natsserver.Server
	// services holds each service's own credentials, by name.
	services map[string]bus.Auth
	// tools holds the tools' passwords by user: the bench floor's and the
	// operator's (endpoints.json).
	tools map[string]string
}

// startDevNATS starts the in-process server with JetStream in <data>/nats,
// on 127.0.0.1 only, admitting a user per service (each allowed to publish
// what its service emits, on cfg's stream and prefix), the bench floor's
// user and the operator's, each with a password made anew for this start
// and never logged.
func startDevNATS(data string, cfg bus.Config) (*devNATS, error) {
	users, err := natsserver.ServiceUsers(cfg)
	if err != nil {
		return nil, err
	}
	d := &devNATS{services: map[string]bus.Auth{}, tools: map[string]string{}}
	for name, u := range users {
		d.services[name] = u.Auth()
	}
	floor, err := natsserver.NewUser(bench.FloorUser, bench.FloorPublishAllow(cfg.Stream), []string{bus.InboxSubjects})
	if err != nil {
		return nil, err
	}
	operator, err := natsserver.NewUser(operatorUser, bus.OperatorPublishAllow(), nil)
	if err != nil {
		return nil, err
	}
	for _, u := range []natsserver.User{floor, operator} {
		users[u.Name], d.tools[u.Name] = u, u.Password
	}
	if d.srv, err = natsserver.Start(natsserver.Options{StoreDir: filepath.Join(data, "nats"), Listen: true,
		Users: natsserver.Sorted(users)}); err != nil {
		return nil, err
	}
	return d, nil
}

// use has sc's services connect to the server in-process, each as its own
// user, and returns the server's loopback URL, its description and the
// tools' passwords.
func (d *devNATS) use(sc *stack.Config, data string) (url, desc string, tools map[string]string) {
	sc.Bus.Auth, sc.NATSAuth, sc.NATSOptions = bus.Auth{}, d.services, []nats.Option{d.srv.ConnectOption()}
	return d.srv.URL(), "in-process on " + d.srv.URL() + " (a user per service, passwords new at each start), JetStream in " +
		filepath.Join(data, "nats"), d.tools
}

// stop shuts the server down.
func (d *devNATS) stop(log *slog.Logger) {
	d.srv.Shutdown()
	log.Info("in-process NATS stopped")
}
