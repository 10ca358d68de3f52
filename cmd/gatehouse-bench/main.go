// Command gatehouse-bench runs gatehouse's benchmark suites. Every figure
// is measured next to a baseline in the same run, on the same machine,
// and printed as a ratio, so the numbers mean something on any hardware.
//
//	go run ./cmd/gatehouse-bench            # every suite
//	go run ./cmd/gatehouse-bench NAME...    # some suites
//	go run ./cmd/gatehouse-bench -list
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strings"
	"text/tabwriter"
)

// Result is one measured figure.
type Result struct {
	Suite    string
	Metric   string
	Value    string // the measured figure, with its unit
	Baseline string // the baseline measured in the same run ("" when none)
	Ratio    string // value relative to the baseline
	Goal     string // the goal it is held to
	Met      *bool  // nil when there is no pass/fail goal
}

// Suite is one benchmark suite. It returns its figures.
type Suite struct {
	Name  string
	About string
	Run   func(ctx context.Context) ([]Result, error)
}

var suites = map[string]Suite{}

// register adds a suite; each suite's file calls it from init.
func register(s Suite) { suites[s.Name] = s }

func main() {
	list := flag.Bool("list", false, "list the suites and exit")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of this process (loads, in-process checks) to `file`")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: gatehouse-bench [-list] [SUITE...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	// Flags may also follow the suite names (gatehouse-bench soak
	// -duration 10m): the standard parser stops at the first name.
	var names []string
	for args := flag.Args(); len(args) > 0; args = flag.Args() {
		if strings.HasPrefix(args[0], "-") && args[0] != "-" {
			flag.CommandLine.Parse(args) // exits on a bad flag
			continue
		}
		names = append(names, args[0])
		flag.CommandLine.Parse(args[1:])
	}
	if len(names) == 0 {
		for n := range suites {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	if *list {
		for _, n := range names {
			fmt.Printf("%-14s %s\n", n, suites[n].About)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// Temporary databases, schemas and processes of the suites go away
	// however the run ends.
	defer runCleanups()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		atExit(func() { pprof.StopCPUProfile(); f.Close() })
	}
	var all []Result
	failed := false
	for _, n := range names {
		s, ok := suites[n]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown suite %q (try -list)\n", n)
			runCleanups()
			os.Exit(2)
		}
		// The load average tells how much other work shared the machine.
		fmt.Fprintf(os.Stderr, "running %s: %s (load average %s)\n", n, s.About, loadAverage())
		// A suite that fails may still return figures (the soak returns
		// its table with its verdict): they are printed too.
		rs, err := s.Run(ctx)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", n, err)
			failed = true
		}
		all = append(all, rs...)
	}
	printTable(all)
	if failed {
		runCleanups()
		os.Exit(1)
	}
}

func printTable(rs []Result) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SUITE\tMETRIC\tVALUE\tBASELINE\tRATIO\tGOAL\tMET")
	for _, r := range rs {
		met := "-"
		if r.Met != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*r.Met]
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Suite, r.Metric, r.Value, dash(r.Baseline), dash(r.Ratio), dash(r.Goal), met)
	}
	w.Flush()
}

func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

// met is a helper for Result.Met.
func met(ok bool) *bool { return &ok }
