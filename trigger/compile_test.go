package trigger

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCompile(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		spec      Spec
		wantField string // "" = valid
	}{
		{"CronUTCDefault", Spec{Cron: "0 9 * * *"}, ""},
		{"CronZone", Spec{Cron: "0 9 * * 1-5", Timezone: "Europe/Paris"}, ""},
		{"CronExplicitUTC", Spec{Cron: "0 9 * * *", Timezone: "UTC"}, ""},
		{"CronSeconds", Spec{Cron: "*/5 * * * * *"}, ""},
		{"CronDescriptor", Spec{Cron: "@weekly", Timezone: "Asia/Kolkata"}, ""},
		{"CronLast", Spec{Cron: "0 0 L,l-3 * *"}, ""},
		{"EveryMinimum", Spec{Every: "1s"}, ""},
		{"EveryCompound", Spec{Every: "1h30m"}, ""},
		{"AtUTC", Spec{At: "2025-06-01T09:00:00Z"}, ""},
		{"AtOffsetFraction", Spec{At: "2025-06-01T09:00:00.5+02:00"}, ""},

		// Shape.
		{"Empty", Spec{}, "trigger"},
		{"TimezoneOnly", Spec{Timezone: "UTC"}, "trigger"},
		{"CronAndEvery", Spec{Cron: "* * * * *", Every: "1m"}, "trigger"},
		{"EveryAndAt", Spec{Every: "1m", At: "2025-06-01T09:00:00Z"}, "trigger"},
		{"AllThree", Spec{Cron: "@daily", Every: "1m", At: "2025-06-01T09:00:00Z"}, "trigger"},
		{"TimezoneWithEvery", Spec{Every: "1m", Timezone: "UTC"}, "trigger.timezone"},
		{"TimezoneWithAt", Spec{At: "2025-06-01T09:00:00Z", Timezone: "Europe/Paris"}, "trigger.timezone"},

		// Zones.
		{"UnknownZone", Spec{Cron: "@daily", Timezone: "Mars/Olympus_Mons"}, "trigger.timezone"},
		{"LocalZone", Spec{Cron: "@daily", Timezone: "Local"}, "trigger.timezone"},
		{"PathZone", Spec{Cron: "@daily", Timezone: "../../etc/passwd"}, "trigger.timezone"},
		{"GarbageZone", Spec{Cron: "@daily", Timezone: "not a zone"}, "trigger.timezone"},

		// Cron: robfig panics on the first three (semantics.md section 4).
		{"TZPrefixAlone", Spec{Cron: "TZ=UTC"}, "trigger.cron"},
		{"CronTZEmpty", Spec{Cron: "CRON_TZ="}, "trigger.cron"},
		{"TZRepeated", Spec{Cron: "TZ=TZ=TZ="}, "trigger.cron"},
		{"TZPrefixWithFields", Spec{Cron: "TZ=UTC * * * * *"}, "trigger.cron"},
		{"CronTZPrefix", Spec{Cron: "CRON_TZ=America/New_York 0 9 * * *"}, "trigger.cron"},
		{"TZPrefixBadZone", Spec{Cron: "TZ=Bad/Zone * * * * *"}, "trigger.cron"},
		{"Blank", Spec{Cron: "   "}, "trigger.cron"},
		{"Garbage", Spec{Cron: "hello world"}, "trigger.cron"},
		{"TooFewFields", Spec{Cron: "* * *"}, "trigger.cron"},
		{"SevenFields", Spec{Cron: "0 0 0 1 1 * 2030"}, "trigger.cron"},
		{"MinuteRange", Spec{Cron: "60 * * * *"}, "trigger.cron"},
		{"HourRange", Spec{Cron: "* 24 * * *"}, "trigger.cron"},
		{"DomZero", Spec{Cron: "* * 0 * *"}, "trigger.cron"},
		{"MonthRange", Spec{Cron: "* * * 13 *"}, "trigger.cron"},
		{"DowSeven", Spec{Cron: "* * * * 7"}, "trigger.cron"},
		{"StepZero", Spec{Cron: "*/0 * * * *"}, "trigger.cron"},
		{"ReversedRange", Spec{Cron: "5-1 * * * *"}, "trigger.cron"},
		{"EmptyList", Spec{Cron: ", * * * *"}, "trigger.cron"},
		{"NthWeekday", Spec{Cron: "0 0 * * 5#2"}, "trigger.cron"},
		{"LastWeekday", Spec{Cron: "0 0 LW * *"}, "trigger.cron"},
		{"LastOffsetTooBig", Spec{Cron: "0 0 L-31 * *"}, "trigger.cron"},
		{"LastInMinuteField", Spec{Cron: "L * * * *"}, "trigger.cron"},
		{"UnknownDescriptor", Spec{Cron: "@reboot"}, "trigger.cron"},
		{"EveryDescriptor", Spec{Cron: "@every 5m"}, "trigger.cron"},

		// Cron: no match in a whole 400-year cycle (semantics.md 5.1).
		{"February30", Spec{Cron: "0 0 30 2 *"}, "trigger.cron"},
		{"April31", Spec{Cron: "0 0 31 4 *"}, "trigger.cron"},
		{"Day31ShortMonths", Spec{Cron: "0 0 31 2,4,6,9,11 *"}, "trigger.cron"},
		{"LastMinus30February", Spec{Cron: "0 0 L-30 2 *"}, "trigger.cron"},

		// Every.
		{"EverySubSecond", Spec{Every: "500ms"}, "trigger.every"},
		{"EveryJustUnderSecond", Spec{Every: "999ms"}, "trigger.every"},
		{"EveryZero", Spec{Every: "0s"}, "trigger.every"},
		{"EveryNegative", Spec{Every: "-1h"}, "trigger.every"},
		{"EveryNoUnit", Spec{Every: "60"}, "trigger.every"},
		{"EveryDays", Spec{Every: "1d"}, "trigger.every"},
		{"EveryGarbage", Spec{Every: "often"}, "trigger.every"},

		// At.
		{"AtDateOnly", Spec{At: "2025-06-01"}, "trigger.at"},
		{"AtNoZone", Spec{At: "2025-06-01T09:00:00"}, "trigger.at"},
		{"AtBadMonth", Spec{At: "2025-13-01T09:00:00Z"}, "trigger.at"},
		{"AtWords", Spec{At: "tomorrow"}, "trigger.at"},
		{"AtZeroTime", Spec{At: "0001-01-01T00:00:00Z"}, "trigger.at"},
		{"AtYearZero", Spec{At: "0000-06-01T00:00:00Z"}, "trigger.at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			trig, err := Compile(tt.spec, time.Time{})
			require.Equal(t, err, Validate(tt.spec))
			if tt.wantField == "" {
				require.NoError(t, err)
				require.NotNil(t, trig)
				return
			}
			require.True(t, trig == nil, "Compile must return a nil Trigger with an error")
			var fe *FieldError
			require.ErrorAs(t, fmt.Errorf("create schedule: %w", err), &fe)
			require.Equal(t, tt.wantField, fe.Field)
			require.NotEmpty(t, fe.Message)
		})
	}
}

func TestCompile_Kinds(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		spec Spec
		want Trigger
	}{
		{Spec{Cron: "@daily"}, (*Cron)(nil)},
		{Spec{Every: "1m"}, (*Every)(nil)},
		{Spec{At: "2025-06-01T09:00:00Z"}, (*At)(nil)},
	} {
		trig := mustCompile(t, tt.spec, time.Time{})
		require.IsType(t, tt.want, trig)
	}
}

func TestFieldError_Error(t *testing.T) {
	t.Parallel()

	err := error(&FieldError{Field: "trigger.cron", Message: "expression is empty"})
	require.EqualError(t, err, "trigger.cron: expression is empty")

	var fe *FieldError
	require.True(t, errors.As(fmt.Errorf("wrapped: %w", err), &fe))
	require.Equal(t, "trigger.cron", fe.Field)
}
