package main

import (
	"testing"
	"time"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		// Shuffled order: percentile must sort a copy.
		hundred[i] = ms((i*37)%100 + 1)
	}
	cases := []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 99, 0},
		{"one", []time.Duration{ms(7)}, 99, ms(7)},
		{"p50 of 1..100", hundred, 50, ms(50)},
		{"p99 of 1..100 is the worst but one", hundred, 99, ms(99)},
		{"p100 is the maximum", hundred, 100, ms(100)},
		{"tiny p is the minimum", hundred, 0.001, ms(1)},
		{"p99 of 10 is the maximum", []time.Duration{ms(1), ms(2), ms(3), ms(4), ms(5), ms(6), ms(7), ms(8), ms(9), ms(10)}, 99, ms(10)},
		{"p50 of 4 is the second", []time.Duration{ms(4), ms(1), ms(3), ms(2)}, 50, ms(2)},
	}
	for _, c := range cases {
		if got := percentile(c.in, c.p); got != c.want {
			t.Errorf("%s: percentile(p=%v) = %v, want %v", c.name, c.p, got, c.want)
		}
	}
	if hundred[0] != ms(1) || hundred[1] != ms(38) {
		t.Errorf("percentile modified its input: %v", hundred[:2])
	}
}

func TestSummarize(t *testing.T) {
	s := summarize([]time.Duration{ms(3), ms(1), ms(2)})
	if s.N != 3 || s.P50 != ms(2) || s.P99 != ms(3) || s.Max != ms(3) {
		t.Errorf("summarize = %+v", s)
	}
}

func TestFormatting(t *testing.T) {
	cases := []struct{ got, want string }{
		{fmtDur(412 * time.Microsecond), "412µs"},
		{fmtDur(1234 * time.Microsecond), "1.23ms"},
		{fmtDur(56789 * time.Microsecond), "56.8ms"},
		{fmtDur(2500 * time.Millisecond), "2.50s"},
		{fmtDur(800 * time.Nanosecond), "0.80µs"},
		{fmtRatio(91, 100), "0.91x"},
		{fmtRatio(1, 0), "-"},
		{durRatio(ms(30), ms(10)), "3.00x"},
		{fmtMiB(150 << 20), "150 MiB"},
		{fmtCount(1000000), "1,000,000"},
		{fmtCount(999), "999"},
		{fmtCount(-12345), "-12,345"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestTimedLoop(t *testing.T) {
	calls := 0
	ds, err := timedLoop(t.Context(), 1000, 300*time.Millisecond, func() error {
		calls++
		time.Sleep(5 * time.Millisecond)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The budget stops the loop long before 1000 calls; every call is timed.
	if calls >= 100 || calls < 1 || len(ds) != calls {
		t.Errorf("%d calls, %d timings", calls, len(ds))
	}
	for _, d := range ds {
		if d < 5*time.Millisecond {
			t.Errorf("timing %v shorter than the call", d)
		}
	}
	ds, err = timedLoop(t.Context(), 3, time.Hour, func() error { return nil })
	if err != nil || len(ds) != 3 {
		t.Errorf("count bound: %d timings, %v", len(ds), err)
	}
}
