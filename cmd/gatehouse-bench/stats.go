package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of ds by the
// nearest-rank method: the smallest sample such that at least p% of the
// samples are at or below it. Unlike interpolation it always returns a
// latency that was really observed, and p99 of 100 samples is the worst
// but one. ds need not be sorted; it is not modified. Zero when empty.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return percentileSorted(s, p)
}

func percentileSorted(s []time.Duration, p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}

// summary is the usual view of a latency sample.
type summary struct {
	N             int
	P50, P99, Max time.Duration
}

func summarize(ds []time.Duration) summary {
	s := slices.Clone(ds)
	slices.Sort(s)
	out := summary{N: len(s), P50: percentileSorted(s, 50), P99: percentileSorted(s, 99)}
	if len(s) > 0 {
		out.Max = s[len(s)-1]
	}
	return out
}

func (s summary) String() string {
	return fmt.Sprintf("n=%d p50=%s p99=%s max=%s", s.N, fmtDur(s.P50), fmtDur(s.P99), fmtDur(s.Max))
}

// fmtDur prints a duration with three significant digits in the unit that
// suits it (µs below a millisecond, ms below a second, s above).
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return sig3(float64(d)/float64(time.Microsecond)) + "µs"
	case d < time.Second:
		return sig3(float64(d)/float64(time.Millisecond)) + "ms"
	default:
		return sig3(d.Seconds()) + "s"
	}
}

// sig3 prints v with three significant digits (at least the integer part).
func sig3(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// fmtRatio prints value/baseline, e.g. "0.91x". "-" when the baseline is 0.
func fmtRatio(value, baseline float64) string {
	if baseline == 0 || math.IsNaN(value) || math.IsNaN(baseline) {
		return "-"
	}
	return sig3(value/baseline) + "x"
}

// durRatio is fmtRatio for durations.
func durRatio(value, baseline time.Duration) string {
	return fmtRatio(float64(value), float64(baseline))
}

// fmtMiB prints a byte count in MiB.
func fmtMiB(b uint64) string { return sig3(float64(b)/(1<<20)) + " MiB" }

// fmtCount prints a count with thousands separators (1,000,000).
func fmtCount(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + fmtCount(-n)
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
