package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/fsm"
)

// FuzzDecodeSchedule checks that the request decoder never panics, that
// every rejection is a 400 naming a field, and that every accepted schedule
// survives fsm.Encode/Decode unchanged and applies cleanly.
func FuzzDecodeSchedule(f *testing.F) {
	seeds := []string{
		scheduleJSON(nil),
		scheduleJSON(obj{"trigger": obj{"every": "90s"}, "policy": obj{"overlap": "buffer_one", "jitter": "5s"}}),
		scheduleJSON(obj{"trigger": obj{"at": "2027-01-01T00:00:00+05:30"}, "start_at": "2026-01-01T00:00:00Z",
			"end_at": "2028-01-01T00:00:00Z", "max_runs": 3, "paused": true}),
		scheduleJSON(obj{"params": obj{"html": "<b>&</b>", "n": 1e300, "s": "\u2028"}}),
		scheduleJSON(obj{"trigger": obj{"cron": "TZ=UTC 0 * * * *"}}),
		scheduleJSON(obj{"trigger": obj{"weekly": "x"}}),
		scheduleJSON(obj{"start_at": "0001-01-01T00:30:00+01:00"}),
		`{"id":"a","handler":"h","method":"m","trigger":{"cron":"@daily"},"version":18446744073709551615}`,
		`{"id":"a","ID":"b","handler":"h","method":"m","trigger":{"every":"1h"}}`,
		`{"trigger":{"cron":"0 0 L * *"}}`,
		`null`, `[]`, `{`, ``, `"x"`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), "")
		f.Add([]byte(s), "nightly-report")
	}
	f.Fuzz(func(t *testing.T, body []byte, pathID string) {
		sc, _, err := decodeSchedule(body, pathID)
		if err != nil {
			var ae *apiError
			require.True(t, errors.As(err, &ae), "%T %v", err, err)
			require.Equal(t, codeInvalidArgument, ae.Code)
			require.NotEmpty(t, ae.Field)
			return
		}
		require.NoError(t, validID("id", sc.ID))
		require.LessOrEqual(t, len(sc.Params), maxParamsBytes)

		want, err := json.Marshal(sc)
		require.NoError(t, err)
		entry, err := fsm.Encode([]fsm.Event{{Type: fsm.ScheduleCreated, At: time.Unix(1, 0).UTC(), Schedule: sc}})
		require.NoError(t, err)
		events, err := fsm.Decode(entry)
		require.NoError(t, err)
		require.Len(t, events, 1)
		got, err := json.Marshal(events[0].Schedule)
		require.NoError(t, err)
		require.JSONEq(t, string(want), string(got))

		results := fsm.New().Apply(1, entry)
		require.Len(t, results, 1)
		require.NoError(t, results[0].Err)

		// next_fire_at of an accepted schedule neither panics nor fails to
		// compile (both are logged at Warn or above).
		var logs bytes.Buffer
		s := &Server{log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))}
		s.nextFireAt(results[0].Schedule, testNow)
		require.Empty(t, logs.String())
	})
}

// FuzzDecodeBatch checks that the batch decoder never panics, that every
// rejection is a 400 naming a field (an item's as schedules[i]…), and
// that an accepted batch is one schedule.created per item, each of which
// the single-create decoder accepts on its own.
func FuzzDecodeBatch(f *testing.F) {
	one := scheduleJSON(nil)
	for _, s := range []string{
		`{"schedules":[` + one + `]}`,
		`{"schedules":[` + one + `,` + scheduleJSON(obj{"id": "b", "trigger": obj{"every": "0s"}}) + `]}`,
		`{"schedules":[]}`, `{"schedules":null}`, `{"schedules":[1]}`, `{"schedules":{}}`, `{"other":1}`,
		`[]`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := decodeBatch(body)
		if err != nil {
			var ae *apiError
			require.True(t, errors.As(err, &ae), "%T %v", err, err)
			require.Equal(t, codeInvalidArgument, ae.Code)
			require.NotEmpty(t, ae.Field)
			if strings.HasPrefix(ae.Field, "schedules[") {
				require.Contains(t, ae.Message, ae.Field[:strings.IndexByte(ae.Field, ']')+1], "the message names the item")
			}
			return
		}
		require.NotEmpty(t, events)
		require.LessOrEqual(t, len(events), maxBatchSchedules)
		for _, ev := range events {
			require.Equal(t, fsm.ScheduleCreated, ev.Type)
			require.NotNil(t, ev.Schedule)
			require.NoError(t, validID("id", ev.Schedule.ID))
		}
	})
}
