// Command oncofed-node is the hospital side of Oncofed: it imports the site's data into the
// node database, serves whitelisted aggregate queries to the hub under the site's disclosure
// policy, and prints and verifies the audit log. Each subcommand lives in its own file and
// registers itself from init(), so new subcommands need no change here.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/oncofed/oncofed/internal/cpuprofile"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(args []string) error
}

var commands = map[string]command{}

// register adds a subcommand; it is called from init() in each subcommand's file.
func register(name, summary string, run func(args []string) error) {
	if _, dup := commands[name]; dup {
		panic("oncofed-node: subcommand registered twice: " + name)
	}
	commands[name] = command{name: name, summary: summary, run: run}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: oncofed-node <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'oncofed-node <command> -h' for a command's flags.")
}

func main() {
	name := "oncofed-node"
	if len(os.Args) > 1 {
		name += "-" + os.Args[1]
	}
	stop := cpuprofile.Start(name)
	code := run(os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "oncofed-node: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err := cmd.run(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "oncofed-node %s: %v\n", cmd.name, err)
		return 1
	}
	return 0
}

// stringList is a repeatable string flag (--endpoint, --db).
type stringList []string

func (s *stringList) String() string     { return fmt.Sprint([]string(*s)) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
