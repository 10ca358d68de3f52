package main

// The soak's verdict and report: trends of the samples, the limits they
// must stay within, and the timeline.

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

type soakReport struct {
	Cfg                                     soakConfig
	Elapsed                                 time.Duration
	OK, Bad                                 [nSoakKinds]int64
	Limited, Undecided, Skipped, Reconnects int64
	Failures                                []string
	Samples                                 []soakSample
	Trends                                  []soakTrend
}

// soakTrend says whether one series stayed flat once warm.
type soakTrend struct {
	Name        string
	Unit        string // "MiB" or ""
	Start       float64
	Early, Late float64 // means over the run's second and last quarters
	Growth      float64 // least-squares slope over the last three quarters, times their length
	Limit       float64
	N           int // samples analysed
	Flat        bool
}

// The tolerances of "flat". A leak grows with the work done: at 600
// checks a second, 7.5 minutes after warm-up are some 270,000 checks and
// 9,000 changes, so the 4 MiB of heap allowed is 15 bytes per check, far
// less than any object kept per request or per token. What the limits
// must absorb is noise: the heap in use swings with the garbage collector
// (up to twice the live heap between cycles, but the regression over
// hundreds of samples averages that out), RSS with the runtime returning
// memory to the system lazily, goroutines and descriptors with the
// requests and connections in flight at the sampling instant (a dozen
// workers' worth). Below those floors, 10% of the warm level.
var soakLimits = []struct {
	name, unit string
	rel, abs   float64
	value      func(soakSample) float64
}{
	{"heap in use (go_memstats_heap_inuse_bytes)", "MiB", 0.10, 4 << 20, func(s soakSample) float64 { return s.HeapInuse }},
	{"resident memory (VmRSS)", "MiB", 0.10, 8 << 20, func(s soakSample) float64 { return float64(s.RSS) }},
	{"goroutines (go_goroutines)", "", 0.10, 8, func(s soakSample) float64 { return s.Goroutines }},
	{"open descriptors (/proc/PID/fd)", "", 0.10, 8, func(s soakSample) float64 { return float64(s.FDs) }},
}

// soakMinSamples is how many samples after warm-up a verdict needs.
const soakMinSamples = 8

// flatTrend judges a series sampled at times at over a run of length run.
// The first quarter is warm-up (caches filling, connection pools
// growing) and is left out. The series grew when both the least-squares
// slope over the rest, times its length, exceeds the limit and the last
// quarter's mean is above the second quarter's by more than half of it:
// a leak does both (for a steady leak the second is two thirds of the
// first), while noise seldom pushes both at once. The limit is
// max(rel × the second quarter's mean, abs).
func flatTrend(name string, at []time.Duration, vs []float64, run time.Duration, rel, abs float64) soakTrend {
	tr := soakTrend{Name: name}
	if len(vs) > 0 {
		tr.Start = vs[0]
	}
	q := run.Seconds() / 4
	var xs, ys, early, late []float64
	for i, v := range vs {
		x := at[i].Seconds()
		if x < q {
			continue
		}
		xs, ys = append(xs, x), append(ys, v)
		if x < 2*q {
			early = append(early, v)
		}
		if x >= 3*q {
			late = append(late, v)
		}
	}
	tr.N = len(xs)
	if tr.N < soakMinSamples || len(early) == 0 || len(late) == 0 {
		return tr // not flat: too few samples to tell
	}
	tr.Early, tr.Late = mean(early), mean(late)
	tr.Growth = slope(xs, ys) * (xs[len(xs)-1] - xs[0])
	tr.Limit = max(rel*tr.Early, abs)
	tr.Flat = !(tr.Growth > tr.Limit && tr.Late-tr.Early > tr.Limit/2)
	return tr
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// slope is the least-squares slope of ys over xs.
func slope(xs, ys []float64) float64 {
	mx, my := mean(xs), mean(ys)
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den == 0 {
		return 0
	}
	return num / den
}

func (r *soakReport) analyse() {
	at := make([]time.Duration, len(r.Samples))
	for i, s := range r.Samples {
		at[i] = s.At
	}
	r.Trends = nil
	for _, l := range soakLimits {
		vs := make([]float64, len(r.Samples))
		for i, s := range r.Samples {
			vs[i] = l.value(s)
		}
		tr := flatTrend(l.name, at, vs, r.Elapsed, l.rel, l.abs)
		tr.Unit = l.unit
		r.Trends = append(r.Trends, tr)
	}
}

func (r *soakReport) unexpected() int64 { return sum(r.Bad[:]) }

// verdict is nil when the soak passed: no unexpected answer, every
// series flat.
func (r *soakReport) verdict() error {
	var why []string
	if n := r.unexpected(); n > 0 {
		why = append(why, fmt.Sprintf("%d unexpected answers", n))
	}
	for _, t := range r.Trends {
		if !t.Flat {
			if t.N < soakMinSamples {
				why = append(why, fmt.Sprintf("%s: only %d samples after warm-up", t.Name, t.N))
			} else {
				why = append(why, fmt.Sprintf("%s grew by %s (limit %s)", t.Name, t.fmt(t.Growth), t.fmt(t.Limit)))
			}
		}
	}
	if len(why) > 0 {
		return fmt.Errorf("soak failed: %s", strings.Join(why, "; "))
	}
	return nil
}

func (t soakTrend) fmt(v float64) string {
	if t.Unit == "MiB" {
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	}
	return fmt.Sprintf("%.1f", v)
}

func (r *soakReport) results() []Result {
	secs := r.Elapsed.Seconds()
	be := r.Cfg.Backend
	var ops, checks int64
	for k := range nSoakKinds {
		ops += r.OK[k] + r.Bad[k]
		if !soakKind(k).change() {
			checks += r.OK[k] + r.Bad[k]
		}
	}
	rs := []Result{{
		Suite: "soak", Metric: fmt.Sprintf("operations in %s (%s), of them checks and binds", r.Elapsed.Round(time.Second), be),
		Value: fmt.Sprintf("%s (%.0f/s); %s (%.0f/s)", fmtCount(int(ops)), float64(ops)/secs, fmtCount(int(checks)), float64(checks)/secs),
	}}
	for k := range nSoakKinds {
		n := r.OK[k] + r.Bad[k]
		v := fmt.Sprintf("%s (%.1f/s)", fmtCount(int(n)), float64(n)/secs)
		if r.Bad[k] > 0 {
			v += fmt.Sprintf(", %d unexpected", r.Bad[k])
		}
		rs = append(rs, Result{Suite: "soak", Metric: "  " + soakKindNames[k], Value: v})
	}
	rs = append(rs,
		Result{Suite: "soak", Metric: "unexpected answers (5xx, refused good key, admitted dead key)", Value: fmtCount(int(r.unexpected())),
			Goal: "0", Met: met(r.unexpected() == 0)},
		Result{Suite: "soak", Metric: "  refusals answered 429 by the limiter (counted refused)", Value: fmtCount(int(r.Limited))},
		Result{Suite: "soak", Metric: "  LDAP sessions ended by the server after a change, bound again", Value: fmtCount(int(r.Reconnects))},
	)
	if r.Undecided+r.Skipped > 0 {
		rs = append(rs, Result{Suite: "soak", Metric: "  not judged: grace checks answered at its end; refusals without an address",
			Value: fmt.Sprintf("%d; %d", r.Undecided, r.Skipped)})
	}
	for _, t := range r.Trends {
		res := Result{Suite: "soak", Metric: t.Name + ": 2nd -> last quarter mean",
			Value:    fmt.Sprintf("%s -> %s (trend %+.1f%s)", t.fmt(t.Early), t.fmt(t.Late), t.Growth/unitDiv(t.Unit), unitSuffix(t.Unit)),
			Baseline: "start " + t.fmt(t.Start), Ratio: fmtRatio(t.Late, t.Early),
			Goal: "growth < " + t.fmt(t.Limit), Met: met(t.Flat)}
		if t.N < soakMinSamples {
			res.Value = fmt.Sprintf("%d samples after warm-up: too few to tell", t.N)
		}
		rs = append(rs, res)
	}
	if len(r.Samples) > 0 {
		last := r.Samples[len(r.Samples)-1]
		rs = append(rs, Result{Suite: "soak", Metric: "database connections at the end", Value: strconv.Itoa(last.DBConns)})
	}
	return rs
}

func unitDiv(u string) float64 {
	if u == "MiB" {
		return 1 << 20
	}
	return 1
}

func unitSuffix(u string) string {
	if u == "MiB" {
		return " MiB"
	}
	return ""
}

// printTimeline prints one row per tenth of the run (a minute of ten):
// the rates of the interval that ends there, and the sample taken then.
func (r *soakReport) printTimeline(w io.Writer) {
	if len(r.Samples) == 0 {
		return
	}
	step := soakRowEvery(r.Cfg.Duration)
	rows := []soakSample{r.Samples[0]}
	for _, s := range r.Samples[1:] {
		if s.At >= rows[len(rows)-1].At+step-r.Cfg.Sample/2 {
			rows = append(rows, s)
		}
	}
	if last := r.Samples[len(r.Samples)-1]; rows[len(rows)-1].At != last.At {
		rows = append(rows, last)
	}
	fmt.Fprintf(w, "soak timeline (%s, %s):\n", r.Cfg.Backend, r.Elapsed.Round(time.Second))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "TIME\tCHECKS/S\tCHANGES/S\tLDAP/S\tUNEXPECTED\tRSS\tHEAP INUSE\tHEAP OBJECTS\tGOROUTINES\tFDS\tDB CONNS\tLOAD\t")
	round := time.Second
	if step < 5*time.Second {
		round = 100 * time.Millisecond
	}
	for i, s := range rows {
		var checks, changes, ldap float64
		if i > 0 {
			p := rows[i-1]
			dt := (s.At - p.At).Seconds()
			for k := range nSoakKinds {
				d := float64(s.Counts[k]-p.Counts[k]) / dt
				switch kind := soakKind(k); {
				case kind.change():
					changes += d
				case kind == kLDAPBind || kind == kLDAPRevoked:
					ldap += d
				default:
					checks += d
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.1f\t%.0f\t%d\t%s\t%s\t%s\t%.0f\t%d\t%d\t%s\t\n", s.At.Round(round), checks, changes, ldap, s.Errors,
			fmtMiB(s.RSS), fmtMiB(uint64(s.HeapInuse)), fmtCount(int(s.HeapObjects)), s.Goroutines, s.FDs, s.DBConns, s.Load)
	}
	tw.Flush()
	for _, f := range r.Failures {
		fmt.Fprintln(w, "unexpected:", f)
	}
	if err := r.verdict(); err != nil {
		fmt.Fprintln(w, "soak verdict: FAIL:", strings.TrimPrefix(err.Error(), "soak failed: "))
	} else {
		fmt.Fprintf(w, "soak verdict: PASS: no unexpected answer; heap, RSS, goroutines and descriptors flat after warm-up (%d samples)\n", len(r.Samples))
	}
}
