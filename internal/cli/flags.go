package cli

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gatehouse/gatehouse/internal/config"
)

// Flag values that check their input while flags are parsed, so that a bad
// value is a usage error (exit 2) before any request is sent.

// enumValue is one of a fixed set of words.
type enumValue struct {
	value   string
	allowed []string
}

func newEnum(def string, allowed ...string) *enumValue {
	return &enumValue{value: def, allowed: allowed}
}

func (e *enumValue) String() string { return e.value }
func (e *enumValue) Type() string   { return strings.Join(e.allowed, "|") }

func (e *enumValue) Set(s string) error {
	if !slices.Contains(e.allowed, s) {
		return fmt.Errorf("must be one of %s", strings.Join(e.allowed, ", "))
	}
	e.value = s
	return nil
}

// textValue is a plain string.
type textValue string

func (v *textValue) String() string     { return string(*v) }
func (v *textValue) Set(s string) error { *v = textValue(s); return nil }
func (v *textValue) Type() string       { return "string" }

// durationValue is a Go duration or whole days (30d, as the server takes
// them). It keeps the text as given, which is what is sent to the server.
type durationValue struct {
	text string
	d    time.Duration
}

func (v *durationValue) String() string { return v.text }
func (v *durationValue) Type() string   { return "duration" }

func (v *durationValue) Set(s string) error {
	d, err := config.ParseDuration(s)
	if err != nil {
		return errors.New("must be a duration such as 90s, 15m, 720h or 30d")
	}
	if d < 0 {
		return errors.New("must not be negative")
	}
	v.text, v.d = s, d
	return nil
}

// timeValue is an RFC 3339 time. With now set it also takes a duration,
// meaning that long ago ("--since 24h").
type timeValue struct {
	t   time.Time
	now func() time.Time // nil: absolute times only
}

func (v *timeValue) Type() string { return "time" }

func (v *timeValue) String() string {
	if v.t.IsZero() {
		return ""
	}
	return v.t.UTC().Format(time.RFC3339Nano)
}

func (v *timeValue) Set(s string) error {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		v.t = t
		return nil
	}
	if v.now == nil {
		return errors.New("must be an RFC 3339 time such as 2030-01-02T15:04:05Z")
	}
	d, err := config.ParseDuration(s)
	if err != nil || d < 0 {
		return errors.New("must be an RFC 3339 time such as 2030-01-02T15:04:05Z, or a duration ago such as 24h or 7d")
	}
	v.t = v.now().Add(-d)
	return nil
}

// field ties a flag to a JSON field of a create or update request.
type field struct {
	flag, key, usage string
	list             bool // a repeatable flag sent as a JSON array
}

func addFields(fs *pflag.FlagSet, fields []field) {
	for _, f := range fields {
		if f.list {
			fs.StringArray(f.flag, nil, f.usage)
		} else {
			fs.String(f.flag, "", f.usage)
		}
	}
}

// fieldBody adds the fields' flag values to body: all of them, or with
// onlyGiven only those given on the command line (a PATCH).
func fieldBody(fs *pflag.FlagSet, fields []field, onlyGiven bool, body map[string]any) {
	for _, f := range fields {
		fl := fs.Lookup(f.flag)
		if onlyGiven && !fl.Changed {
			continue
		}
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			body[f.key] = orEmpty(sv.GetSlice())
		} else {
			body[f.key] = fl.Value.String()
		}
	}
}

// filter ties a list command's flag to a query parameter.
type filter struct {
	flag, param, usage string
	value              pflag.Value
}

func textFilter(flag, param, usage string) filter {
	return filter{flag: flag, param: param, usage: usage, value: new(textValue)}
}

func filterQuery(fs *pflag.FlagSet, filters []filter) url.Values {
	q := url.Values{}
	for _, f := range filters {
		if fs.Changed(f.flag) {
			q.Set(f.param, f.value.String())
		}
	}
	return q
}

// orEmpty makes a nil list an empty one, which JSON shows as [] not null.
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
