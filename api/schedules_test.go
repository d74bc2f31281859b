package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/cluster"
)

func TestServer_CreateSchedule(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rec := b.do(t, http.MethodPost, "/v1/schedules", scheduleJSON(nil))
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		require.Equal(t, `"1"`, rec.Header().Get("ETag"))
		got := decode[scheduleResponse](t, rec)
		require.Equal(t, "nightly-report", got.ID)
		require.Equal(t, "reports", got.Handler)
		require.Equal(t, "generate", got.Method)
		require.JSONEq(t, `{"format":"pdf"}`, string(got.Params))
		require.Equal(t, map[string]any{"cron": "0 30 2 * * *", "timezone": "Europe/Berlin"}, got.Trigger)
		require.Equal(t, map[string]any{"overlap": "skip", "catchup_window": "1h", "max_retries": 3.0,
			"retry_backoff": "1s", "timeout": "10m", "jitter": "0s", "history_limit": 100.0, "history_max_age": "168h"}, got.Policy)
		require.Nil(t, got.StartAt)
		require.Nil(t, got.EndAt)
		require.False(t, got.Paused)
		require.Equal(t, uint64(1), got.Version)
		require.Equal(t, "2026-11-27T12:00:00Z", got.CreatedAt)
		require.NotNil(t, got.NextFireAt)
		require.Equal(t, "2026-11-28T01:30:00Z", *got.NextFireAt)

		stored, ok := b.cluster.fsm.Get("nightly-report")
		require.True(t, ok)
		require.Equal(t, uint64(1), stored.Version)
	})

	t.Run("RawShape", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rec := b.do(t, http.MethodPost, "/v1/schedules", scheduleJSON(nil))
		require.Equal(t, http.StatusCreated, rec.Code)
		var raw map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &raw))
		for _, k := range []string{"id", "handler", "method", "params", "trigger", "policy", "start_at", "end_at",
			"max_runs", "paused", "next_fire_at", "version", "created_at", "updated_at"} {
			require.Contains(t, raw, k)
		}
		require.Equal(t, "null", string(raw["start_at"]))
	})

	t.Run("PolicyDefaultsPerField", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		got := b.create(t, scheduleJSON(obj{"policy": obj{"max_retries": 5, "overlap": "allow", "jitter": "2s"}}))
		require.Equal(t, map[string]any{"overlap": "allow", "catchup_window": "1h", "max_retries": 5.0,
			"retry_backoff": "1s", "timeout": "10m", "jitter": "2s", "history_limit": 100.0, "history_max_age": "168h"}, got.Policy)
	})

	t.Run("PolicyNullFieldsDefault", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		got := b.create(t, scheduleJSON(obj{"policy": obj{"overlap": jsonNull, "timeout": jsonNull}}))
		require.Equal(t, "skip", got.Policy["overlap"])
		require.Equal(t, "10m", got.Policy["timeout"])
	})

	t.Run("ParamsCompacted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		body := `{"id":"p","handler":"h","method":"m","trigger":{"every":"1h"},"params": { "a" : [ 1, 2 ],  "b": "x y" }}`
		got := b.create(t, body)
		require.Equal(t, `{"a":[1,2],"b":"x y"}`, string(got.Params))
	})

	t.Run("ParamsAnyJSONValue", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		got := b.create(t, scheduleJSON(obj{"params": []any{1, "two", nil}}))
		require.Equal(t, `[1,"two",null]`, string(got.Params))
	})

	t.Run("ParamsNullOmitted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		got := b.create(t, scheduleJSON(obj{"params": jsonNull}))
		require.Nil(t, got.Params)
	})

	t.Run("ReadOnlyFieldsIgnored", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		got := b.create(t, scheduleJSON(obj{"version": 7, "next_fire_at": "2000-01-01T00:00:00Z",
			"created_at": "2000-01-01T00:00:00Z", "updated_at": "x"}))
		require.Equal(t, uint64(1), got.Version)
		require.Equal(t, "2026-11-27T12:00:00Z", got.CreatedAt)
		require.Equal(t, "2026-11-28T01:30:00Z", *got.NextFireAt)
	})

	t.Run("PausedHonoured", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		got := b.create(t, scheduleJSON(obj{"paused": true}))
		require.True(t, got.Paused)
		require.Nil(t, got.NextFireAt)
	})

	t.Run("WindowStoredInUTC", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		got := b.create(t, scheduleJSON(obj{"start_at": "2027-01-01T01:00:00+01:00", "end_at": "2028-01-01T00:00:00Z", "max_runs": 10}))
		require.Equal(t, "2027-01-01T00:00:00Z", *got.StartAt)
		require.Equal(t, "2028-01-01T00:00:00Z", *got.EndAt)
		require.Equal(t, 10, got.MaxRuns)
	})

	t.Run("ErrAlreadyExists", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.create(t, scheduleJSON(nil))
		rec := b.do(t, http.MethodPost, "/v1/schedules", scheduleJSON(obj{"handler": "other"}))
		requireError(t, rec, http.StatusConflict, codeAlreadyExists, "")
		stored, _ := b.cluster.fsm.Get("nightly-report")
		require.Equal(t, "reports", stored.Handler)
	})
}

func TestServer_CreateSchedule_Validation(t *testing.T) {
	t.Parallel()

	long := strings.Repeat("a", 129)
	tests := []struct {
		name  string
		body  string
		field string
	}{
		{"EmptyBody", "", "body"},
		{"NotJSON", "not json", "body"},
		{"Truncated", `{"id":"x"`, "body"},
		{"NotAnObject", `[]`, "body"},
		{"TrailingData", scheduleJSON(nil) + `{}`, "body"},
		{"BodyTooLarge", scheduleJSON(obj{"params": strings.Repeat("x", 1<<20)}), "body"},
		{"UnknownTopLevelField", scheduleJSON(obj{"colour": "red"}), "colour"},
		{"EmptyFieldName", scheduleJSON(obj{"": "x"}), "body"},
		{"EmptyTriggerFieldName", scheduleJSON(obj{"trigger": obj{"": "x"}}), "trigger"},
		{"MissingID", scheduleJSON(obj{"id": nil}), "id"},
		{"EmptyID", scheduleJSON(obj{"id": ""}), "id"},
		{"IDTooLong", scheduleJSON(obj{"id": long}), "id"},
		{"IDBadChar", scheduleJSON(obj{"id": "a/b"}), "id"},
		{"IDSpace", scheduleJSON(obj{"id": "a b"}), "id"},
		{"IDDotDot", scheduleJSON(obj{"id": ".."}), "id"},
		{"IDNotString", scheduleJSON(obj{"id": 5}), "id"},
		{"MissingHandler", scheduleJSON(obj{"handler": nil}), "handler"},
		{"HandlerTooLong", scheduleJSON(obj{"handler": long}), "handler"},
		{"HandlerBadChar", scheduleJSON(obj{"handler": "re:ports"}), "handler"},
		{"MissingMethod", scheduleJSON(obj{"method": nil}), "method"},
		{"MethodBadChar", scheduleJSON(obj{"method": "gen erate"}), "method"},
		{"ParamsTooLarge", scheduleJSON(obj{"params": obj{"blob": strings.Repeat("x", 64<<10)}}), "params"},
		{"ParamsInvalidUTF8", `{"id":"a","handler":"h","method":"m","trigger":{"every":"1h"},"params":"` + "\xff" + `"}`, "params"},
		{"MissingTrigger", scheduleJSON(obj{"trigger": nil}), "trigger"},
		{"NullTrigger", scheduleJSON(obj{"trigger": jsonNull}), "trigger"},
		{"TriggerNotObject", scheduleJSON(obj{"trigger": "0 * * * *"}), "trigger"},
		{"TriggerEmpty", scheduleJSON(obj{"trigger": obj{}}), "trigger"},
		{"TriggerUnknownKind", scheduleJSON(obj{"trigger": obj{"weekly": "x"}}), "trigger.weekly"},
		{"TriggerTwoKinds", scheduleJSON(obj{"trigger": obj{"every": "1h", "at": "2027-01-01T00:00:00Z"}}), "trigger"},
		{"CronNotString", scheduleJSON(obj{"trigger": obj{"cron": 5}}), "trigger.cron"},
		{"CronBad", scheduleJSON(obj{"trigger": obj{"cron": "61 * * * *"}}), "trigger.cron"},
		{"CronGarbage", scheduleJSON(obj{"trigger": obj{"cron": "every day please"}}), "trigger.cron"},
		{"CronTZPrefix", scheduleJSON(obj{"trigger": obj{"cron": "TZ=UTC 0 * * * *"}}), "trigger.cron"},
		{"CronTZPrefixWithTimezone", scheduleJSON(obj{"trigger": obj{"cron": "CRON_TZ=UTC 0 * * * *", "timezone": "UTC"}}), "trigger.cron"},
		{"CronTZPrefixOnly", scheduleJSON(obj{"trigger": obj{"cron": "TZ="}}), "trigger.cron"},
		{"CronNeverFires", scheduleJSON(obj{"trigger": obj{"cron": "0 0 30 2 *"}}), "trigger.cron"},
		{"UnknownTimezone", scheduleJSON(obj{"trigger": obj{"cron": "0 * * * *", "timezone": "Mars/Olympus"}}), "trigger.timezone"},
		{"TimezoneWithoutCron", scheduleJSON(obj{"trigger": obj{"every": "1h", "timezone": "UTC"}}), "trigger.timezone"},
		{"EveryBad", scheduleJSON(obj{"trigger": obj{"every": "soon"}}), "trigger.every"},
		{"AtBad", scheduleJSON(obj{"trigger": obj{"at": "tomorrow"}}), "trigger.at"},
		{"PolicyNotObject", scheduleJSON(obj{"policy": "skip"}), "policy"},
		{"PolicyUnknownField", scheduleJSON(obj{"policy": obj{"retries": 3}}), "policy.retries"},
		{"OverlapUnknown", scheduleJSON(obj{"policy": obj{"overlap": "sometimes"}}), "policy.overlap"},
		{"OverlapNotString", scheduleJSON(obj{"policy": obj{"overlap": 1}}), "policy.overlap"},
		{"CatchupWindowBad", scheduleJSON(obj{"policy": obj{"catchup_window": "forever"}}), "policy.catchup_window"},
		{"CatchupWindowNegative", scheduleJSON(obj{"policy": obj{"catchup_window": "-1s"}}), "policy.catchup_window"},
		{"CatchupWindowNumber", scheduleJSON(obj{"policy": obj{"catchup_window": 3600}}), "policy.catchup_window"},
		{"RetryBackoffBad", scheduleJSON(obj{"policy": obj{"retry_backoff": "1 second"}}), "policy.retry_backoff"},
		{"RetryBackoffNegative", scheduleJSON(obj{"policy": obj{"retry_backoff": "-5ms"}}), "policy.retry_backoff"},
		{"TimeoutZero", scheduleJSON(obj{"policy": obj{"timeout": "0s"}}), "policy.timeout"},
		{"TimeoutBad", scheduleJSON(obj{"policy": obj{"timeout": "10 minutes"}}), "policy.timeout"},
		{"HistoryLimitNegative", scheduleJSON(obj{"policy": obj{"history_limit": -1}}), "policy.history_limit"},
		{"HistoryLimitHuge", scheduleJSON(obj{"policy": obj{"history_limit": 10001}}), "policy.history_limit"},
		{"HistoryMaxAgeBad", scheduleJSON(obj{"policy": obj{"history_max_age": "a week"}}), "policy.history_max_age"},
		{"JitterNegative", scheduleJSON(obj{"policy": obj{"jitter": "-1s"}}), "policy.jitter"},
		{"MaxRetriesTooHigh", scheduleJSON(obj{"policy": obj{"max_retries": 101}}), "policy.max_retries"},
		{"MaxRetriesNegative", scheduleJSON(obj{"policy": obj{"max_retries": -1}}), "policy.max_retries"},
		{"MaxRetriesString", scheduleJSON(obj{"policy": obj{"max_retries": "3"}}), "policy.max_retries"},
		{"MaxRetriesFraction", scheduleJSON(obj{"policy": obj{"max_retries": 1.5}}), "policy.max_retries"},
		{"StartAtBad", scheduleJSON(obj{"start_at": "tomorrow"}), "start_at"},
		{"StartAtNotString", scheduleJSON(obj{"start_at": 1700000000}), "start_at"},
		{"StartAtYearZero", scheduleJSON(obj{"start_at": "0000-01-01T00:00:00+01:00"}), "start_at"},
		{"EndAtBad", scheduleJSON(obj{"end_at": "2027-13-01T00:00:00Z"}), "end_at"},
		{"EndBeforeStart", scheduleJSON(obj{"start_at": "2027-01-02T00:00:00Z", "end_at": "2027-01-01T00:00:00Z"}), "end_at"},
		{"EndEqualsStart", scheduleJSON(obj{"start_at": "2027-01-01T00:00:00Z", "end_at": "2027-01-01T00:00:00Z"}), "end_at"},
		{"MaxRunsNegative", scheduleJSON(obj{"max_runs": -1}), "max_runs"},
		{"MaxRunsNotNumber", scheduleJSON(obj{"max_runs": "many"}), "max_runs"},
		{"PausedNotBool", scheduleJSON(obj{"paused": "yes"}), "paused"},
		{"VersionNegative", scheduleJSON(obj{"version": -1}), "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			rec := b.do(t, http.MethodPost, "/v1/schedules", tt.body)
			requireError(t, rec, http.StatusBadRequest, codeInvalidArgument, tt.field)
			require.Zero(t, b.cluster.fsm.Count())
			require.Empty(t, b.cluster.callLog(), "nothing may be proposed for an invalid request")
		})
	}
}

func TestServer_CreateSchedule_NextFireAt(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		overrides map[string]any
		want      string // "" means null
	}{
		{"CronInZone", nil, "2026-11-28T01:30:00Z"},
		{"EveryAnchoredAtCreation", obj{"trigger": obj{"every": "90m"}}, "2026-11-27T13:30:00Z"},
		{"EveryAnchoredAtStart", obj{"trigger": obj{"every": "1h"}, "start_at": "2026-11-27T12:20:00Z"}, "2026-11-27T12:20:00Z"},
		{"EveryStartInPast", obj{"trigger": obj{"every": "1h"}, "start_at": "2026-11-27T10:20:00Z"}, "2026-11-27T12:20:00Z"},
		{"StartAtOnFireTime", obj{"trigger": obj{"cron": "0 0 * * *"}, "start_at": "2027-03-01T00:00:00Z"}, "2027-03-01T00:00:00Z"},
		{"StartAtBetweenFires", obj{"trigger": obj{"cron": "0 0 * * *"}, "start_at": "2027-03-01T00:00:01Z"}, "2027-03-02T00:00:00Z"},
		{"AtFuture", obj{"trigger": obj{"at": "2027-06-01T08:00:00+02:00"}}, "2027-06-01T06:00:00Z"},
		{"AtPast", obj{"trigger": obj{"at": "2020-01-01T00:00:00Z"}}, ""},
		{"PastEndAt", obj{"trigger": obj{"cron": "0 0 1 1 *"}, "end_at": "2026-12-31T00:00:00Z"}, ""},
		{"EndAtInclusive", obj{"trigger": obj{"cron": "0 0 1 1 *"}, "end_at": "2027-01-01T00:00:00Z"}, "2027-01-01T00:00:00Z"},
		{"Paused", obj{"paused": true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			got := b.create(t, scheduleJSON(tt.overrides))
			if tt.want == "" {
				require.Nil(t, got.NextFireAt)
				return
			}
			require.NotNil(t, got.NextFireAt)
			require.Equal(t, tt.want, *got.NextFireAt)
		})
	}

	t.Run("FollowsTheClock", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.create(t, scheduleJSON(obj{"trigger": obj{"every": "1h"}}))
		b.clock.Set(testNow.Add(90 * time.Minute))
		got := decode[scheduleResponse](t, b.do(t, http.MethodGet, "/v1/schedules/nightly-report", ""))
		require.Equal(t, "2026-11-27T14:00:00Z", *got.NextFireAt)
	})
}

func TestServer_GetSchedule(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		created := b.create(t, scheduleJSON(nil))
		rec := b.do(t, http.MethodGet, "/v1/schedules/nightly-report", "")
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, `"1"`, rec.Header().Get("ETag"))
		require.Equal(t, created, decode[scheduleResponse](t, rec))
		require.Equal(t, []string{"Propose", "LinearizableRead"}, b.cluster.callLog())
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		requireError(t, b.do(t, http.MethodGet, "/v1/schedules/missing", ""), http.StatusNotFound, codeNotFound, "")
	})

	t.Run("StaleRead", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.create(t, scheduleJSON(nil))
		b.cluster.setErr(cluster.ErrNoLeader) // a linearizable read would fail
		for _, q := range []string{"true", "1"} {
			rec := b.do(t, http.MethodGet, "/v1/schedules/nightly-report?stale="+q, "")
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		}
		requireError(t, b.do(t, http.MethodGet, "/v1/schedules/nightly-report", ""),
			http.StatusServiceUnavailable, codeNoLeader, "")
		requireError(t, b.do(t, http.MethodGet, "/v1/schedules/nightly-report?stale=false", ""),
			http.StatusServiceUnavailable, codeNoLeader, "")
		require.Equal(t, []string{"Propose", "LinearizableRead", "LinearizableRead"}, b.cluster.callLog())
	})

	t.Run("ErrStaleParam", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		requireError(t, b.do(t, http.MethodGet, "/v1/schedules/x?stale=maybe", ""), http.StatusBadRequest, codeInvalidArgument, "stale")
	})

	t.Run("ErrTimeout", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.cluster.setErr(cluster.ErrTimeout)
		requireError(t, b.do(t, http.MethodGet, "/v1/schedules/x", ""), http.StatusServiceUnavailable, codeTimeout, "")
	})
}

func TestServer_UpdateSchedule(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.create(t, scheduleJSON(obj{"policy": obj{"max_retries": 9}}))
		b.clock.Set(testNow.Add(time.Minute))
		rec := b.do(t, http.MethodPut, "/v1/schedules/nightly-report", scheduleJSON(obj{"id": nil, "method": "regenerate", "trigger": obj{"every": "1h"}}))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.Equal(t, `"2"`, rec.Header().Get("ETag"))
		got := decode[scheduleResponse](t, rec)
		require.Equal(t, "regenerate", got.Method)
		require.Equal(t, uint64(2), got.Version)
		require.Equal(t, 3.0, got.Policy["max_retries"], "PUT replaces the spec: absent policy fields are defaults again")
		require.Equal(t, "2026-11-27T12:00:00Z", got.CreatedAt)
		require.Equal(t, "2026-11-27T12:01:00Z", got.UpdatedAt)
		require.Equal(t, "2026-11-27T13:00:00Z", *got.NextFireAt)
	})

	t.Run("GetResponseIsAValidBody", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.create(t, scheduleJSON(nil))
		body := b.do(t, http.MethodGet, "/v1/schedules/nightly-report", "").Body.String()
		rec := b.do(t, http.MethodPut, "/v1/schedules/nightly-report", body)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.Equal(t, uint64(2), decode[scheduleResponse](t, rec).Version)
	})

	t.Run("KeepsPausedState", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.create(t, scheduleJSON(obj{"paused": true}))
		rec := b.do(t, http.MethodPut, "/v1/schedules/nightly-report", scheduleJSON(obj{"paused": false}))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.True(t, decode[scheduleResponse](t, rec).Paused)
	})

	t.Run("BodyVersionMatches", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.create(t, scheduleJSON(nil))
		rec := b.do(t, http.MethodPut, "/v1/schedules/nightly-report", scheduleJSON(obj{"version": 1}))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	})

	t.Run("IfMatchMatches", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.create(t, scheduleJSON(nil))
		for i, v := range []string{`"1"`, `W/"2"`, "3", "*"} {
			rec := b.do(t, http.MethodPut, "/v1/schedules/nightly-report", scheduleJSON(nil), "If-Match", v)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Equal(t, uint64(i+2), decode[scheduleResponse](t, rec).Version)
		}
	})

	t.Run("ErrVersionConflict", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.create(t, scheduleJSON(nil))
		rec := b.do(t, http.MethodPut, "/v1/schedules/nightly-report", scheduleJSON(obj{"version": 1, "method": "a"}))
		require.Equal(t, http.StatusOK, rec.Code)
		rec = b.do(t, http.MethodPut, "/v1/schedules/nightly-report", scheduleJSON(obj{"version": 1, "method": "b"}))
		requireError(t, rec, http.StatusConflict, codeVersionConflict, "")
		rec = b.do(t, http.MethodPut, "/v1/schedules/nightly-report", scheduleJSON(obj{"method": "c"}), "If-Match", `"1"`)
		requireError(t, rec, http.StatusConflict, codeVersionConflict, "")
		stored, _ := b.cluster.fsm.Get("nightly-report")
		require.Equal(t, "a", stored.Method)
	})

	t.Run("ErrVersionContradictsIfMatch", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.create(t, scheduleJSON(nil))
		rec := b.do(t, http.MethodPut, "/v1/schedules/nightly-report", scheduleJSON(obj{"version": 1}), "If-Match", "2")
		requireError(t, rec, http.StatusBadRequest, codeInvalidArgument, "version")
	})

	t.Run("ErrIfMatchMalformed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.create(t, scheduleJSON(nil))
		for _, v := range []string{"abc", "0", "-1"} {
			rec := b.do(t, http.MethodPut, "/v1/schedules/nightly-report", scheduleJSON(nil), "If-Match", v)
			requireError(t, rec, http.StatusBadRequest, codeInvalidArgument, "If-Match")
		}
	})

	t.Run("ErrIDMismatch", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.create(t, scheduleJSON(nil))
		rec := b.do(t, http.MethodPut, "/v1/schedules/nightly-report", scheduleJSON(obj{"id": "other"}))
		requireError(t, rec, http.StatusBadRequest, codeInvalidArgument, "id")
	})

	t.Run("ErrPathIDInvalid", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rec := b.do(t, http.MethodPut, "/v1/schedules/a%20b", scheduleJSON(obj{"id": nil}))
		requireError(t, rec, http.StatusBadRequest, codeInvalidArgument, "id")
	})

	t.Run("ErrValidation", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.create(t, scheduleJSON(nil))
		rec := b.do(t, http.MethodPut, "/v1/schedules/nightly-report", scheduleJSON(obj{"trigger": obj{"cron": "bad"}}))
		requireError(t, rec, http.StatusBadRequest, codeInvalidArgument, "trigger.cron")
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rec := b.do(t, http.MethodPut, "/v1/schedules/nightly-report", scheduleJSON(nil))
		requireError(t, rec, http.StatusNotFound, codeNotFound, "")
	})
}

func TestServer_PauseResumeSchedule(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.create(t, scheduleJSON(nil))

		steps := []struct {
			action      string
			wantPaused  bool
			wantVersion uint64
		}{
			{"pause", true, 2},
			{"pause", true, 2}, // idempotent: no new version
			{"resume", false, 3},
			{"resume", false, 3},
		}
		for _, st := range steps {
			rec := b.do(t, http.MethodPost, "/v1/schedules/nightly-report/"+st.action, "")
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			got := decode[scheduleResponse](t, rec)
			require.Equal(t, st.wantPaused, got.Paused, st.action)
			require.Equal(t, st.wantVersion, got.Version, st.action)
			require.Equal(t, st.wantPaused, got.NextFireAt == nil, "next_fire_at is null exactly while paused")
		}
	})

	t.Run("IfMatch", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.create(t, scheduleJSON(nil))
		rec := b.do(t, http.MethodPost, "/v1/schedules/nightly-report/pause", "", "If-Match", `"2"`)
		requireError(t, rec, http.StatusConflict, codeVersionConflict, "")
		rec = b.do(t, http.MethodPost, "/v1/schedules/nightly-report/pause", "", "If-Match", `"1"`)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		rec = b.do(t, http.MethodPost, "/v1/schedules/nightly-report/resume", "", "If-Match", "x")
		requireError(t, rec, http.StatusBadRequest, codeInvalidArgument, "If-Match")
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, action := range []string{"pause", "resume"} {
			rec := b.do(t, http.MethodPost, "/v1/schedules/missing/"+action, "")
			requireError(t, rec, http.StatusNotFound, codeNotFound, "")
		}
	})
}

func TestServer_DeleteSchedule(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.create(t, scheduleJSON(nil))
		rec := b.do(t, http.MethodDelete, "/v1/schedules/nightly-report", "")
		require.Equal(t, http.StatusNoContent, rec.Code)
		require.Empty(t, rec.Body.String())
		requireError(t, b.do(t, http.MethodGet, "/v1/schedules/nightly-report", ""), http.StatusNotFound, codeNotFound, "")
		requireError(t, b.do(t, http.MethodDelete, "/v1/schedules/nightly-report", ""), http.StatusNotFound, codeNotFound, "")
	})

	t.Run("IfMatch", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.create(t, scheduleJSON(nil))
		requireError(t, b.do(t, http.MethodDelete, "/v1/schedules/nightly-report", "", "If-Match", "5"),
			http.StatusConflict, codeVersionConflict, "")
		require.Equal(t, http.StatusNoContent, b.do(t, http.MethodDelete, "/v1/schedules/nightly-report", "", "If-Match", "1").Code)
	})

	t.Run("ErrNoLeader", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.cluster.setErr(cluster.ErrNoLeader)
		requireError(t, b.do(t, http.MethodDelete, "/v1/schedules/x", ""), http.StatusServiceUnavailable, codeNoLeader, "")
	})
}

func TestServer_ListSchedules(t *testing.T) {
	t.Parallel()

	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rec := b.do(t, http.MethodGet, "/v1/schedules", "")
		require.Equal(t, http.StatusOK, rec.Code)
		require.JSONEq(t, `{"schedules":[],"next_cursor":""}`, rec.Body.String())
	})

	t.Run("Paging", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, id := range []string{"s3", "s1", "s5", "s2", "s4"} {
			b.create(t, scheduleJSON(obj{"id": id}))
		}
		var ids []string
		cursor, pages := "", 0
		for {
			rec := b.do(t, http.MethodGet, "/v1/schedules?limit=2&cursor="+cursor, "")
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			p := decode[listPage](t, rec)
			pages++
			for _, s := range p.Schedules {
				ids = append(ids, s.ID)
				require.NotNil(t, s.NextFireAt)
			}
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
		}
		require.Equal(t, []string{"s1", "s2", "s3", "s4", "s5"}, ids)
		require.Equal(t, 3, pages)
	})

	t.Run("DefaultAndMaxLimit", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for i := range 101 {
			b.create(t, scheduleJSON(obj{"id": fmt.Sprintf("s%03d", i)}))
		}
		p := decode[listPage](t, b.do(t, http.MethodGet, "/v1/schedules", ""))
		require.Len(t, p.Schedules, 100)
		require.Equal(t, "s099", p.NextCursor)
		p = decode[listPage](t, b.do(t, http.MethodGet, "/v1/schedules?limit=5000", ""))
		require.Len(t, p.Schedules, 101)
		require.Empty(t, p.NextCursor)
	})

	t.Run("ErrLimit", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, l := range []string{"0", "-1", "ten"} {
			requireError(t, b.do(t, http.MethodGet, "/v1/schedules?limit="+l, ""), http.StatusBadRequest, codeInvalidArgument, "limit")
		}
	})

	t.Run("StaleRead", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.create(t, scheduleJSON(nil))
		b.cluster.setErr(cluster.ErrNoLeader)
		rec := b.do(t, http.MethodGet, "/v1/schedules?stale=true", "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.Contains(t, rec.Body.String(), `"id":"nightly-report"`)
		requireError(t, b.do(t, http.MethodGet, "/v1/schedules", ""), http.StatusServiceUnavailable, codeNoLeader, "")
	})
}

type listPage struct {
	Schedules  []scheduleResponse `json:"schedules"`
	NextCursor string             `json:"next_cursor"`
}

func TestServer_CreateSchedule_HistoryDefaults(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got := b.create(t, scheduleJSON(obj{"policy": obj{"history_limit": 0, "history_max_age": "0s"}}))
	require.Equal(t, 100.0, got.Policy["history_limit"])
	require.Equal(t, "168h", got.Policy["history_max_age"])
}
