package main

import (
	"context"
	"errors"
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
	fs := newFlagSet("cost", "--orders N [--json] [flags]", cost.Description, stdout)
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
