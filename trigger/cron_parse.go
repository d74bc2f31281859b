package trigger

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// starBit is robfig/cron's marker for a field written as `*` or `?`.
const starBit = 1 << 63

// compileCron parses expr and checks that it can ever fire.
//
// robfig/cron v3 is used only as a field parser: its Next skips DST gaps,
// doubles folds, gives up after 5 years and returns the zero time, and its
// Parse panics on some TZ= prefixes (semantics.md section 4).
func compileCron(expr string, loc *time.Location) (*Cron, error) {
	expr = strings.TrimSpace(expr)
	switch {
	case expr == "":
		return nil, fieldErr(fieldCron, "expression is empty")
	case strings.Contains(expr, "TZ="):
		return nil, fieldErr(fieldCron, "TZ= and CRON_TZ= prefixes are not allowed; use the timezone field")
	case strings.HasPrefix(expr, "@every"):
		return nil, fieldErr(fieldCron, `@every is not a cron expression; use the "every" trigger`)
	}
	expr, last, onlyL, err := extractLast(expr)
	if err != nil {
		return nil, fieldErr(fieldCron, err.Error())
	}
	s, err := parseSpec(expr)
	if err != nil {
		return nil, fieldErr(fieldCron, "invalid cron expression: "+err.Error())
	}
	c := &Cron{
		loc:    loc,
		second: s.Second &^ starBit,
		minute: s.Minute &^ starBit,
		hour:   s.Hour &^ starBit,
		dom:    s.Dom &^ starBit,
		last:   last,
		month:  s.Month &^ starBit,
		dow:    s.Dow &^ starBit,
	}
	if onlyL {
		c.dom = 0 // drop the placeholder
	}
	c.daysAnd = s.Dom&starBit != 0 || s.Dow&starBit != 0
	c.hourAll = c.hour == allHours
	if c.second == 0 || c.minute == 0 || c.hour == 0 || c.month == 0 {
		return nil, fieldErr(fieldCron, "invalid cron expression: a field matches no value")
	}
	cycle := daysFromCivil(2000, 1, 1) * secondsPerDay
	if _, ok := c.nextWall(cycle, cycle+cycleDays*secondsPerDay); !ok {
		return nil, fieldErr(fieldCron, "expression never fires: no date in a 400-year Gregorian cycle matches its day, month and weekday fields")
	}
	return c, nil
}

// parseSpec runs the robfig parser, turning a panic into an error.
func parseSpec(expr string) (spec *cron.SpecSchedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			spec, err = nil, fmt.Errorf("unparsable (%v)", r)
		}
	}()
	p := cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	sched, err := p.Parse(expr)
	if err != nil {
		return nil, err
	}
	spec, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("unsupported schedule %T", sched)
	}
	return spec, nil
}

// extractLast removes `L` (last day of the month) and `L-n` (n days before
// it, 0 <= n <= 30) terms from the day-of-month field, which robfig does not
// know, and returns them as a mask with bit n set for L-n. A field of only L
// terms is replaced by "1" so that robfig parses it, and onlyL is set so that
// the caller drops that placeholder day again.
func extractLast(expr string) (_ string, last uint64, onlyL bool, _ error) {
	fields := strings.Fields(expr)
	var idx int
	switch {
	case strings.HasPrefix(expr, "@"):
		return expr, 0, false, nil
	case len(fields) == 5:
		idx = 2
	case len(fields) == 6:
		idx = 3
	default:
		return expr, 0, false, nil // robfig reports the field count
	}
	var kept []string
	for _, term := range strings.Split(fields[idx], ",") {
		n, isL, err := parseLastTerm(term)
		if err != nil {
			return "", 0, false, err
		}
		if isL {
			last |= 1 << n
		} else if term != "" {
			kept = append(kept, term)
		}
	}
	if last == 0 {
		return expr, 0, false, nil
	}
	if len(kept) == 0 {
		kept, onlyL = []string{"1"}, true
	}
	fields[idx] = strings.Join(kept, ",")
	return strings.Join(fields, " "), last, onlyL, nil
}

// parseLastTerm recognises "L" and "L-n" (case-insensitive).
func parseLastTerm(term string) (n int, isL bool, err error) {
	upper := strings.ToUpper(term)
	if !strings.HasPrefix(upper, "L") {
		return 0, false, nil
	}
	if upper == "L" {
		return 0, true, nil
	}
	n, err = strconv.Atoi(strings.TrimPrefix(upper, "L-"))
	if !strings.HasPrefix(upper, "L-") || err != nil || n < 0 || n > 30 {
		return 0, false, fmt.Errorf("invalid day-of-month term %q: want L or L-n with 0 <= n <= 30", term)
	}
	return n, true, nil
}
