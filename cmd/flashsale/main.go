// Command flashsale takes orders in a flash sale and studies how to process
// them: synchronously, through a queue and workers, or serverless.
//
// Usage:
//
//	flashsale <command> [flags]
//
// Run "flashsale --help" for the commands and "flashsale <command> --help"
// for the flags of one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand. Each lives in its own file and registers itself
// in an init function, so that main stays wiring only.
type command struct {
	name    string
	summary string
	// run parses args (after the command name) and runs. It returns
	// flag.ErrHelp after printing help, and a usageError for bad flags.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("flashsale: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// usageError is a mistake in the command line; main exits 2 for it.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			// flashsale help CMD is flashsale CMD --help.
			if _, ok := commands[args[1]]; !ok {
				fmt.Fprintf(stderr, "flashsale help: unknown command %q\n\n", args[1])
				usage(stderr)
				return 2
			}
			return run(ctx, []string{args[1], "--help"}, stdout, stderr)
		}
		usage(stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "flashsale: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err := c.run(ctx, args[1:], stdout, stderr)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "flashsale %s: %v\n", c.name, err)
		return 2
	default:
		fmt.Fprintf(stderr, "flashsale %s: %v\n", c.name, err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "flashsale takes orders in a flash sale without losing any, and measures")
	fmt.Fprintln(w, "synchronous, queue-backed and serverless processing.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: flashsale <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "flashsale <command> --help" (or "flashsale help <command>") for the flags of a command.`)
}

// runSubcommand runs the subcommand args[0] of a command with the rest of
// args: help lists the usage and subcommands (on stdout for -h, --help or
// help; on stderr with a usage error when none is given), and an unknown
// subcommand is a usage error naming the known ones.
func runSubcommand(args []string, stdout, stderr io.Writer, help func(io.Writer), subs map[string]func([]string) error) error {
	if len(args) == 0 {
		help(stderr)
		return usageError{errors.New("missing subcommand")}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		help(stdout)
		return flag.ErrHelp
	}
	if run, ok := subs[args[0]]; ok {
		return run(args[1:])
	}
	names := make([]string, 0, len(subs))
	for n := range subs {
		names = append(names, n)
	}
	sort.Strings(names)
	return usageError{fmt.Errorf("unknown subcommand %q (want %s)", args[0], strings.Join(names, " or "))}
}

// newFlagSet returns a flag set for a command whose help (on -h or --help)
// prints the summary, the usage line and every flag to stdout.
func newFlagSet(name, usageLine, description string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("flashsale "+name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: flashsale %s %s\n\n%s\n\nFlags:\n", name, usageLine, description)
		shown := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
		shown.SetOutput(stdout)
		fs.VisitAll(func(f *flag.Flag) {
			if _, hidden := f.Value.(aliasValue); !hidden {
				shown.Var(f.Value, f.Name, f.Usage)
				shown.Lookup(f.Name).DefValue = f.DefValue
			}
		})
		shown.PrintDefaults()
	}
	return fs
}

// aliasValue is a flag that sets another one: an old name kept working,
// not listed in the help.
type aliasValue struct{ flag.Value }

// alias makes old a hidden alias of the flag name of fs.
func alias(fs *flag.FlagSet, old, name string) {
	fs.Var(aliasValue{fs.Lookup(name).Value}, old, "alias of --"+name)
}

// parseFlags parses args, turning parse failures into usage errors and
// rejecting stray positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}
