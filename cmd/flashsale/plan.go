package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"flashsale/internal/capacity"
	"flashsale/internal/loadgen"
	"flashsale/internal/textout"
)

func init() {
	register(&command{
		name:    "plan",
		summary: "model a flash sale: backlog, drain time, workers for real time, sync ceiling",
		run:     runPlan,
	})
}

// intList is a flag holding a comma-separated list of positive integers.
type intList []int

func (l *intList) String() string {
	s := make([]string, len(*l))
	for i, n := range *l {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func (l *intList) Set(v string) error {
	var out intList
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}

func runPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sc := capacity.Scenario{Workers: intList{1}}
	var asJSON bool
	var seed uint64
	fs := newFlagSet("plan", "[flags]",
		"Models a flash sale of --rate orders/s for --burst on the queue-backed path (fluid model:\n"+
			"processing rate, backlog growth, peak backlog, drain time, workers or Lambda concurrency\n"+
			"for real time) and on the synchronous path (ceiling, steady state and a simulated run of\n"+
			"--users Locust-style users for --burst). --workers takes a list: --workers 1,5,20,100.\n"+
			"--workers-per-task N adds the worker service on ECS scaled on backlog per task: the visible\n"+
			"messages per running task to aim at so that an order is paid within --latency\n"+
			"(N/payment-delay x latency, less the N in payment) and the tasks the burst needs.", stdout)
	fs.Float64Var(&sc.Rate, "rate", 60, "arrival rate, orders per second")
	fs.DurationVar(&sc.Burst, "burst", time.Minute, "length of the burst")
	fs.DurationVar(&sc.PaymentDelay, "payment-delay", 3*time.Second, "time one payment takes")
	fs.Var((*intList)(&sc.Workers), "workers", "workers draining the queue; a comma-separated list plans several")
	fs.IntVar(&sc.Sync.Users, "users", 20, "sync path: users of the closed population")
	fs.IntVar(&sc.Sync.Slots, "slots", 1, "sync path: payment slots (requests paid at once)")
	fs.DurationVar(&sc.Sync.Timeout, "timeout", loadgen.DefaultTimeout, "sync path: request deadline (client timeout, or the server's 504 if shorter)")
	fs.DurationVar(&sc.Sync.ThinkMin, "think-min", loadgen.DefaultThinkMin, "sync path: shortest think time between requests")
	fs.DurationVar(&sc.Sync.ThinkMax, "think-max", loadgen.DefaultThinkMax, "sync path: longest think time between requests")
	fs.Float64Var(&sc.Sync.SpawnRate, "spawn-rate", loadgen.DefaultSpawnRate, "sync path: users started per second in the simulated run")
	fs.IntVar(&sc.Runs, "runs", 10, "sync path: seeded simulations averaged")
	fs.IntVar(&sc.ConcurrencyQuota, "concurrency-quota", capacity.DefaultConcurrencyQuota, "Lambda concurrent executions the account allows in the Region: warn when the processor needs more")
	fs.IntVar(&sc.Service.WorkersPerTask, "workers-per-task", 0, "worker service on ECS: workers of one task (flashsale worker --workers); plans the backlog per task to aim at and the tasks the burst needs (0: not planned)")
	fs.DurationVar(&sc.Service.Latency, "latency", 60*time.Second, "worker service on ECS: longest time from the queue to the end of the payment that the backlog per task should allow (with --workers-per-task)")
	fs.Uint64Var(&seed, "seed", 1, "sync path: first seed of the simulations")
	fs.BoolVar(&asJSON, "json", false, "print JSON instead of text")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	sc.Sync.Seed = seed
	if sc.Runs < 1 {
		return usageError{fmt.Errorf("--runs %d: need at least 1", sc.Runs)}
	}
	if sc.Service.WorkersPerTask < 0 {
		return usageError{fmt.Errorf("--workers-per-task %d: need at least 1 (0: no worker service)", sc.Service.WorkersPerTask)}
	}
	if sc.Service.WorkersPerTask == 0 {
		var err error
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "latency" {
				err = usageError{fmt.Errorf("--latency plans the worker service: give --workers-per-task too")}
			}
		})
		if err != nil {
			return err
		}
	}
	if sc.ConcurrencyQuota < 1 {
		return usageError{fmt.Errorf("--concurrency-quota %d: need at least 1", sc.ConcurrencyQuota)}
	}
	report, err := capacity.Build(sc)
	if err != nil {
		return usageError{err}
	}
	if asJSON {
		return textout.WriteJSON(stdout, report)
	}
	return report.WriteText(stdout)
}
