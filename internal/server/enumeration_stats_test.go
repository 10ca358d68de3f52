package server_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Statistics for the timing tests: two samples of durations (in any unit)
// taken alternately, compared by the ratio of their medians and by the
// Mann–Whitney U test.

// sampleMedian is the median of xs (not modified).
func sampleMedian(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// mannWhitney returns U of sample a, the common-language effect size
// U/(n1·n2) (the chance that an observation of a exceeds one of b, ties
// counting half: 0.5 when neither is larger) and the two-sided p-value
// from the normal approximation with tie correction and continuity
// correction, good for samples of 20 and more.
func mannWhitney(a, b []float64) (u, auc, p float64) {
	type obs struct {
		v     float64
		fromA bool
	}
	all := make([]obs, 0, len(a)+len(b))
	for _, v := range a {
		all = append(all, obs{v, true})
	}
	for _, v := range b {
		all = append(all, obs{v, false})
	}
	slices.SortFunc(all, func(x, y obs) int {
		switch {
		case x.v < y.v:
			return -1
		case x.v > y.v:
			return 1
		}
		return 0
	})
	n := float64(len(all))
	var rankSumA, ties float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // ranks i+1..j, averaged
		for k := i; k < j; k++ {
			if all[k].fromA {
				rankSumA += rank
			}
		}
		t := float64(j - i)
		ties += t*t*t - t
		i = j
	}
	n1, n2 := float64(len(a)), float64(len(b))
	u = rankSumA - n1*(n1+1)/2
	mean := n1 * n2 / 2
	sigma := math.Sqrt(n1 * n2 / 12 * ((n + 1) - ties/(n*(n-1))))
	if sigma == 0 {
		return u, u / (n1 * n2), 1
	}
	z := math.Max(math.Abs(u-mean)-0.5, 0) / sigma
	return u, u / (n1 * n2), math.Erfc(z / math.Sqrt2)
}

// hodgesLehmann is the median of every difference b[j]-a[i]: the shift
// of b against a, robust to outliers in either.
func hodgesLehmann(a, b []float64) float64 {
	d := make([]float64, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			d = append(d, y-x)
		}
	}
	return sampleMedian(d)
}

// sampleQuantile is the quantile of xs at q in [0, 1], interpolating linearly (xs not modified).
func sampleQuantile(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return math.NaN()
	}
	k := q * float64(len(s)-1)
	f := int(k)
	if f+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[f] + (s[f+1]-s[f])*(k-float64(f))
}

// Thresholds of "indistinguishable".
//
// A shared 2-core CI machine stretches single attempts by a factor of 2
// to 10 when other work holds the cores, and the upper half of a sample
// is mostly waiting. The low percentiles are the attempts that ran
// without waiting: they measure the work done, and they are what a remote
// attacker filters for too (Crosby, Wallach and Riedi, "Opportunities and
// limits of remote timing attacks", 2009, found the low percentiles the
// best filter). Under a load average of 9-11 on two cores the 10th
// percentiles of 40-200 alternated attempts agreed within 5% for equal
// work, where the medians of 40 were off by up to 37%.
//
// The leak being guarded against (a missing user answered without the
// argon2id run) is a factor of 10 to 1000.
const (
	lowQuantile = 0.10
	// The ratio of the low quantiles (missing/existing) must be within
	// [1/strictTolerance, strictTolerance].
	strictTolerance = 1.25
	// A difference of the whole distributions is a finding only when it
	// is both this improbable under "same distribution" and larger than
	// the tolerance (Hodges–Lehmann shift relative to the existing
	// account's median).
	timingAlpha = 0.001
	maxRelShift = 0.10
)

// timingVerdict compares the timings of attempts on an existing account
// (a) and on a missing one (b), allowing the low quantiles a ratio of up
// to tolerance either way and the distributions a shift of up to
// (tolerance-1)·maxRelShift/(strictTolerance-1) (10% at strictTolerance).
// It returns a one-line summary and, when the two can be told apart, why.
func timingVerdict(a, b []float64, tolerance float64) (summary string, problem error) {
	la, lb := sampleQuantile(a, lowQuantile), sampleQuantile(b, lowQuantile)
	ma, mb := sampleMedian(a), sampleMedian(b)
	ratio := lb / la
	_, auc, p := mannWhitney(a, b)
	rel := hodgesLehmann(a, b) / ma
	maxShift := (tolerance - 1) * maxRelShift / (strictTolerance - 1)
	summary = fmt.Sprintf("n=%d+%d; 10th percentile existing %.3f ms, missing %.3f ms, ratio %.3f; median %.3f / %.3f ms, ratio %.3f; Mann–Whitney p=%.3g, P(existing>missing)=%.2f, Hodges–Lehmann shift %+.1f%%",
		len(a), len(b), la, lb, ratio, ma, mb, mb/ma, p, auc, 100*rel)
	switch {
	case ratio < 1/tolerance || ratio > tolerance:
		return summary, fmt.Errorf("the time of unhindered attempts differs: ratio %.3f outside [%.2f, %.2f]", ratio, 1/tolerance, tolerance)
	case p < timingAlpha && math.Abs(rel) > maxShift:
		return summary, fmt.Errorf("the times differ significantly (p=%.3g < %g) by %.1f%% (more than %.0f%%)", p, timingAlpha, 100*rel, 100*maxShift)
	}
	return summary, nil
}

// TestTimingStatistics holds the statistics to values computed
// independently (U by counting pairs, the same normal approximation; an
// exact permutation test of these samples gives p=0.130) and checks that
// the verdict tells a real leak from noise, so that the timing tests
// cannot pass by a broken statistic.
func TestTimingStatistics(t *testing.T) {
	a := []float64{1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30}
	b := []float64{0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29}
	u, _, p := mannWhitney(a, b)
	if u != 58 || math.Abs(p-0.1329) > 0.0005 {
		t.Fatalf("U=%v p=%.4f, want 58 and 0.1329", u, p)
	}
	if m := sampleMedian([]float64{3, 1, 2, 4}); m != 2.5 {
		t.Fatalf("median %v", m)
	}
	if q := sampleQuantile([]float64{5, 1, 4, 2, 3}, 0.1); math.Abs(q-1.4) > 1e-9 {
		t.Fatalf("10th percentile %v", q)
	}
	if hl := hodgesLehmann([]float64{1, 2}, []float64{11, 12}); hl != 10 {
		t.Fatalf("Hodges–Lehmann %v", hl)
	}

	// Same distribution, alternately sampled with drifting load: no finding.
	// A leak of a factor 50 (no argon2 run) or of 30%: found.
	rnd := rand.New(rand.NewPCG(1, 2))
	// Heavy-tailed noise: now and then an attempt waits for the CPU.
	noise := func() float64 {
		if rnd.IntN(10) == 0 {
			return 1 + 3*rnd.Float64()
		}
		return 1 + 0.3*rnd.Float64()
	}
	var base, same, leak, small []float64
	for i := range 200 {
		load := 1 + 0.5*math.Sin(float64(i)/7) // the machine's load drifts
		base = append(base, 40*load*noise())
		same = append(same, 40*load*noise())
		leak = append(leak, 0.8*load*noise())
		small = append(small, 52*load*noise())
	}
	if s, err := timingVerdict(base, same, strictTolerance); err != nil {
		t.Fatalf("same work judged different: %v (%s)", err, s)
	}
	if s, err := timingVerdict(base, leak, strictTolerance); err == nil {
		t.Fatalf("a 50× leak judged the same (%s)", s)
	}
	if s, err := timingVerdict(base, small, strictTolerance); err == nil {
		t.Fatalf("a 30%% leak judged the same (%s)", s)
	}
	// The tolerance of the key doors takes a 30% difference, not a 50× one.
	if s, err := timingVerdict(base, small, keyTolerance); err != nil {
		t.Fatalf("a 30%% difference refused by the key tolerance: %v (%s)", err, s)
	}
	if s, err := timingVerdict(base, leak, keyTolerance); err == nil {
		t.Fatalf("a 50× leak judged the same with the key tolerance (%s)", s)
	}
	// The argon2 doors' tolerance finds the smallest leak they guard
	// against, a factor of 10.
	var tenfold []float64
	for _, v := range base {
		tenfold = append(tenfold, v/10)
	}
	if s, err := timingVerdict(base, tenfold, slowTolerance); err == nil {
		t.Fatalf("a 10× leak judged the same with the argon2 doors' tolerance (%s)", s)
	}
}
