package trigger

// Proleptic Gregorian calendar arithmetic on "wall seconds": a local wall
// clock reading expressed as seconds since 1970-01-01T00:00:00 of that same
// wall clock, i.e. as if the zone were UTC. Zone offsets are applied
// elsewhere (cron.go); nothing here knows about zones or DST.

const (
	secondsPerDay = 86400
	// cycleDays is the length of the 400-year Gregorian cycle. The calendar
	// repeats exactly after it (146097 is a multiple of 7), so a
	// (month, day, weekday) pattern that matches no day in some window of
	// this many days matches none ever.
	cycleDays = 146097
)

// floorDiv returns a/b rounded towards negative infinity, for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// daysFromCivil returns the day number (0 = 1970-01-01) of y-m-d.
// Algorithm from H. Hinnant, "chrono-Compatible Low-Level Date Algorithms".
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12 // March = 0
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*cycleDays + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := floorDiv(z, cycleDays)
	doe := z - era*cycleDays
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	y = yoe + era*400
	if m <= 2 {
		y++
	}
	return y, m, d
}

// weekday returns the day of the week of day number z, 0 = Sunday.
func weekday(z int64) int64 {
	w := (z + 4) % 7 // 1970-01-01 was a Thursday
	if w < 0 {
		w += 7
	}
	return w
}

// daysIn returns the number of days in month m of year y.
func daysIn(y, m int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
