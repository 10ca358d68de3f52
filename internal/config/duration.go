package config

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses a Go duration ("90s", "1h30m", "720h") or one that
// starts with whole days ("30d", "1d12h"), because people write lifetimes
// and retention in days and Go has no day unit. A day is 24 hours: these
// are lifetimes, not calendar dates. Negative values follow Go's rules
// ("-1h"; days cannot be negative); the caller decides whether they are
// allowed.
func ParseDuration(s string) (time.Duration, error) {
	days, rest, ok := strings.Cut(s, "d")
	if !ok {
		return time.ParseDuration(s)
	}
	n, err := strconv.ParseUint(days, 10, 64)
	if err != nil { // no sign, no empty string: ParseUint takes neither
		return 0, errors.New("config: invalid duration " + strconv.Quote(s))
	}
	const day = 24 * time.Hour
	if n > uint64(math.MaxInt64/int64(day)) {
		return 0, errors.New("config: duration out of range " + strconv.Quote(s))
	}
	d := time.Duration(n) * day
	if rest == "" {
		return d, nil
	}
	r, err := time.ParseDuration(rest)
	if err != nil || r < 0 || rest[0] == '+' {
		return 0, errors.New("config: invalid duration " + strconv.Quote(s))
	}
	if d > math.MaxInt64-r {
		return 0, errors.New("config: duration out of range " + strconv.Quote(s))
	}
	return d + r, nil
}

// DurationHint is how messages describe the durations ParseDuration takes.
const DurationHint = "a duration such as 90s, 720h or 30d"

// FormatDuration writes a whole duration as people do: 1h, not 1h0m0s, and
// 90m as 1h30m.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
