// Command aggregator runs the uts-aggregator HTTP service and its operator
// tools. `aggregator help` lists the subcommands; each has its own -h.
//
//	aggregator [serve] [flags]   serve (the default)
//	aggregator healthcheck       exit 0 if the local server answers /healthz (for Docker)
//	aggregator export [flags]    write the configured store as NDJSON to stdout
//	aggregator import [flags]    read an export from stdin into the configured, empty store
//	aggregator backup DEST       copy the SQLite store to DEST while the server runs
//	aggregator publish [flags]   publish one event or NDJSON lines to a running server
//	aggregator version           print version, commit and Go version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// env is what a subcommand may use of its process.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// command is one subcommand of the binary. Its run parses its own flags
// from args with newFlagSet, so that `aggregator NAME -h` lists only them.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, e env) error
}

// commands is the binary's subcommand table, in the order help lists it.
// The first entry runs when no subcommand is named.
var commands = []command{
	{"serve", "run the HTTP service (the default when no subcommand is given)", runServe},
	{"healthcheck", "exit 0 if the local server answers /healthz (the image's health check)", runHealthcheck},
	{"export", "write the configured store as NDJSON to stdout", runExport},
	{"import", "read an export from stdin into the configured, empty store", runImport},
	{"backup", "copy the SQLite store to a directory while the server runs", runBackup},
	{"publish", "publish one event, or NDJSON events from stdin or a file, to a running server", runPublish},
	{"version", "print version, commit and Go version", runVersion},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], env{os.Getenv, os.Stdin, os.Stdout, os.Stderr})
	stop()
	os.Exit(code)
}

// Exit codes of run.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2 // unknown subcommand, stray argument or bad flag
)

// run dispatches args to a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, e env) int {
	cmd := commands[0]
	if len(args) > 0 {
		switch name := args[0]; {
		case name == "help" || name == "-h" || name == "-help" || name == "--help":
			return help(args[1:], e)
		case strings.HasPrefix(name, "-"):
			// flags of the default subcommand
		default:
			c, ok := lookup(name)
			if !ok {
				fmt.Fprintf(e.stderr, "aggregator: unknown command %q\n\n", name)
				usage(e.stderr)
				return exitUsage
			}
			cmd, args = c, args[1:]
		}
	}
	err := cmd.run(ctx, args, e)
	var usageErr *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &usageErr):
		fmt.Fprintf(e.stderr, "aggregator %s: %v\nRun 'aggregator %s -h' for its flags.\n", cmd.name, err, cmd.name)
		return exitUsage
	case isFlagError(err):
		// The flag package has printed the problem and the usage already.
		return exitUsage
	}
	fmt.Fprintf(e.stderr, "aggregator %s: %v\n", cmd.name, err)
	return exitError
}

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// help prints the subcommand list, or one subcommand's flags.
func help(args []string, e env) int {
	if len(args) == 0 {
		usage(e.stdout)
		return exitOK
	}
	c, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(e.stderr, "aggregator help: unknown command %q\n\n", args[0])
		usage(e.stderr)
		return exitUsage
	}
	return run(context.Background(), []string{c.name, "-h"}, env{e.getenv, e.stdin, e.stdout, e.stdout})
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: aggregator [command] [flags]\n\nThe uts-aggregator event service and its tools.\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-12s %s\n", "help", "list the commands, or show one command's flags: aggregator help export")
	fmt.Fprintf(w, "\nRun 'aggregator COMMAND -h' for the flags of a command; every flag can also be set\nthrough its AGGREGATOR_* environment variable.\n")
}

// usageError is a mistake in the command line: it exits with exitUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// flagError marks an error the flag package has already reported.
type flagError struct{ err error }

func (e *flagError) Error() string { return e.err.Error() }
func (e *flagError) Unwrap() error { return e.err }

func isFlagError(err error) bool {
	var fe *flagError
	return errors.As(err, &fe)
}

// newFlagSet returns a flag set for subcommand name whose -h prints the
// synopsis, what the command does and its flags.
func newFlagSet(name, synopsis, doc string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: aggregator %s %s\n\n%s\n", name, synopsis, doc)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintf(fs.Output(), "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}
