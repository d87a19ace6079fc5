package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
	"github.com/whistle-civic/whistle/cmd/internal/stack"
)

// scenario is a world and the faults injected into it under load.
type scenario struct {
	name, what string
	env        envOptions
	// faults returns the faults of a run with this many rounds.
	faults func(e *env, rounds int) []fault
}

// fault breaks something and mends it; a probe then measures how long a new
// whistle takes to go all the way through.
type fault struct {
	what string
	do   func(ctx context.Context) error
}

var scenarios = []scenario{
	{name: "kill-services", what: "SIGKILL each service in turn and restart it", env: envOptions{replicas: 1},
		faults: func(e *env, rounds int) []fault {
			var fs []fault
			for round := 0; round < rounds; round++ {
				for _, name := range stack.Names {
					p := e.services[name][0]
					fs = append(fs, fault{"kill -9 " + p.name, func(ctx context.Context) error {
						p.kill()
						time.Sleep(300 * time.Millisecond)
						return p.start(ctx)
					}})
				}
			}
			return fs
		}},
	{name: "restart-nats", what: "stop or kill the NATS server and start it again", env: envOptions{replicas: 1},
		faults: func(e *env, rounds int) []fault {
			var fs []fault
			for round := 0; round < max(rounds, 2); round++ {
				p, hard := e.nats[0], round%2 == 1
				fs = append(fs, fault{map[bool]string{false: "stop NATS", true: "kill -9 NATS"}[hard], func(ctx context.Context) error {
					if hard {
						p.kill()
					} else {
						p.stop()
					}
					time.Sleep(2 * time.Second)
					return p.start(ctx)
				}})
			}
			return fs
		}},
	{name: "restart-postgres", what: "stop PostgreSQL (every connection cut) and start it again", env: envOptions{replicas: 1},
		faults: func(e *env, rounds int) []fault {
			var fs []fault
			for round := 0; round < max(rounds, 2); round++ {
				fs = append(fs, fault{"restart PostgreSQL", func(ctx context.Context) error {
					return e.restartPostgres(ctx, 2*time.Second)
				}})
			}
			return fs
		}},
	{name: "replicas", what: "two replicas of every service; SIGKILL one of each pair, then bring it back", env: envOptions{replicas: 2},
		faults: func(e *env, rounds int) []fault {
			var fs []fault
			for round := 0; round < max(rounds, 2); round++ {
				victim := round % 2
				fs = append(fs, fault{fmt.Sprintf("kill -9 replica %d of each service", victim+1), func(ctx context.Context) error {
					for _, name := range stack.Names {
						e.services[name][victim].kill()
					}
					return nil
				}}, fault{fmt.Sprintf("restart replica %d of each service", victim+1), func(ctx context.Context) error {
					for _, name := range []string{"dispatch", "intake", "response", "evaluation", "monitoring"} {
						if err := e.services[name][victim].start(ctx); err != nil {
							return err
						}
					}
					return nil
				}})
			}
			return fs
		}},
	{name: "nats-cluster", what: "three JetStream nodes, stream at three replicas; SIGKILL one node, then restart it", env: envOptions{replicas: 1, cluster: true},
		faults: func(e *env, rounds int) []fault {
			var fs []fault
			for round := 0; round < max(rounds, 1); round++ {
				node := e.nats[round%3]
				fs = append(fs, fault{"kill -9 " + node.name, func(ctx context.Context) error {
					node.kill()
					return nil
				}}, fault{"restart " + node.name, func(ctx context.Context) error { return node.start(ctx) }})
			}
			return fs
		}},
}

func scenarioNames() []string {
	var out []string
	for _, s := range scenarios {
		out = append(out, s.name)
	}
	return out
}

// runScenario sets the world up, runs the load with the faults, and checks.
func runScenario(ctx context.Context, sc scenario, sz sizes, work, whistle, natsBin string, out io.Writer) row {
	start := time.Now()
	r := row{name: sc.name}
	e, err := newEnv(ctx, filepath.Join(work, sc.name), whistle, natsBin, sc.env)
	if e != nil {
		defer e.close()
	}
	if err != nil {
		r.err = err
		fmt.Fprintf(out, "  setup failed: %v\n", err)
		return r
	}
	runID := fmt.Sprintf("%s-%d", sc.name, time.Now().UnixNano())
	tickets := int(sz.rate * float64(sz.seconds))
	var res loop.Result
	var loadErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		res, loadErr = loop.Run(ctx, e.clients, loop.Options{Tickets: tickets, Rate: sz.rate, Concurrency: 64, Unsatisfied: 0.2,
			Synthetic: true, Retry: true, Timeout: time.Duration(sz.seconds)*time.Second + 4*time.Minute, As: e.as, City: "hh",
			RunID: runID, Seed: uint64(start.UnixNano())})
	}()
	faults := sc.faults(e, sz.kills)
	gap := time.Duration(sz.seconds) * time.Second / time.Duration(len(faults)+1)
	var probes []string
	for _, f := range faults {
		time.Sleep(gap)
		if err := f.do(ctx); err != nil {
			r.problems = append(r.problems, fmt.Sprintf("%s: %v", f.what, err))
			fmt.Fprintf(out, "  %s: %v\n", f.what, err)
			continue
		}
		r.faults++
		took, id, err := probe(ctx, e)
		probes = append(probes, id)
		if err != nil {
			r.problems = append(r.problems, fmt.Sprintf("probe after %s: %v", f.what, err))
		}
		r.maxRecovery = max(r.maxRecovery, took)
		fmt.Fprintf(out, "  %s: a new whistle went through in %s\n", f.what, took.Round(10*time.Millisecond))
	}
	wg.Wait()
	if loadErr != nil {
		r.err = loadErr
		return r
	}
	fmt.Fprintf(out, "  load: %s; checking\n", res.Summary())
	res.TicketIDs = append(res.TicketIDs, probes...)
	v := verify(ctx, e, res, runID)
	r.tickets, r.lost, r.duplicated = res.Reported, v.lost, v.duplicated
	r.problems = append(r.problems, v.problems...)
	for _, f := range res.Failures {
		r.problems = append(r.problems, "load: "+f.Error())
	}
	for _, p := range r.problems {
		fmt.Fprintf(out, "  problem: %s\n", p)
	}
	r.took = time.Since(start)
	return r
}

// probe pushes one new whistle through the whole loop and says how long it took.
func probe(ctx context.Context, e *env) (time.Duration, string, error) {
	res, err := loop.Run(ctx, e.clients, loop.Options{Tickets: 1, Synthetic: true, Retry: true, Timeout: 2 * time.Minute,
		As: e.as, City: "hh", RunID: fmt.Sprint("probe-", time.Now().UnixNano())})
	if err != nil {
		return 0, "", err
	}
	if res.Closed != 1 {
		return res.Took, res.TicketIDs[0], fmt.Errorf("the probe did not close: %v", res.Failures)
	}
	return res.Took, res.TicketIDs[0], nil
}
