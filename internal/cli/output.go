package cli

import (
	"encoding/json"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// column is one column of a table: its header and how to show an item.
type column[T any] struct {
	header string
	value  func(T) string
}

// view is how items of one kind are shown as a table, one row per item.
type view[T any] []column[T]

func (v view[T]) write(w io.Writer, items []T) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	cells := make([]string, len(v))
	for i, c := range v {
		cells[i] = c.header
	}
	io.WriteString(tw, strings.Join(cells, "\t")+"\n")
	for _, item := range items {
		for i, c := range v {
			cells[i] = cell(c.value(item))
		}
		io.WriteString(tw, strings.Join(cells, "\t")+"\n")
	}
	return tw.Flush()
}

// cell keeps a value on one line of its column, and shows nothing as "-"
// so that every row has the same number of words.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func timeCell(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func optionalTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return timeCell(*t)
}

func expiresCell(expiring bool, at *time.Time) string {
	if !expiring {
		return "never"
	}
	return optionalTime(at)
}

func listCell(s []string) string {
	return strings.Join(s, ",")
}

// writeJSON prints v indented. json.RawMessage values are re-indented as
// they are, so fields unknown to this client are kept.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
