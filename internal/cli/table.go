package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

var cellSpace = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")

// Table writes aligned columns separated by two spaces.
type Table struct{ tw *tabwriter.Writer }

// NewTable returns a Table writing to w; call Flush at the end.
func NewTable(w io.Writer) *Table {
	return &Table{tw: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
}

// Row writes one row; cells are formatted with %v, tabs and newlines in
// them are replaced by spaces.
func (t *Table) Row(cells ...any) {
	s := make([]string, len(cells))
	for i, c := range cells {
		s[i] = cellSpace.Replace(fmt.Sprint(c))
	}
	fmt.Fprintln(t.tw, strings.Join(s, "\t"))
}

// Flush writes the buffered rows.
func (t *Table) Flush() error { return t.tw.Flush() }

// Time formats an optional time as RFC 3339 in UTC, "-" when nil or zero.
func Time(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// Age formats now - t rounded for humans ("850ms", "12s", "3m20s"), "-"
// when t is nil or zero.
func Age(t *time.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	d := max(now.Sub(*t), 0)
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

// Dash returns s, or "-" when s is empty.
func Dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// YesNo formats a boolean as "yes" or "no".
func YesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
