package main

import (
	"context"
	"errors"
	"flag"
	"io"

	"flashsale/internal/cost"
	"flashsale/internal/textout"
)

func init() {
	register(&command{
		name:    "cost",
		summary: "monthly cost of the processor Lambda against the worker service, order store included",
		run:     runCost,
	})
}

func runCost(_ context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlagSet("cost", "--orders N [--tasks N | --task-profile "+cost.ProfileExample+"] [--json] [flags]", cost.Description, stdout)
	p := cost.Defaults()
	orders := fs.Float64("orders", -1, "orders a month (required)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	p.RegisterFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *orders < 0 {
		return usageError{errors.New("--orders N is required (orders a month, 0 or more)")}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["tasks"] && set["task-profile"] {
		return usageError{errors.New("--tasks and --task-profile: give one (--tasks N is --task-profile N@24h)")}
	}
	if p.TaskProfile != nil {
		p.Tasks = 0 // the profile's, not always-on tasks
	}
	p.Orders = *orders
	e, err := cost.Compute(p)
	if err != nil {
		return usageError{err}
	}
	if *asJSON {
		return textout.WriteJSON(stdout, e)
	}
	return cost.WriteText(stdout, e)
}
