package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// batchJSON wraps schedule objects into a batch request body.
func batchJSON(items ...string) string {
	return `{"schedules":[` + strings.Join(items, ",") + `]}`
}

// batchItem is a valid schedule object with the given ID.
func batchItem(id string) string {
	return scheduleJSON(obj{"id": id, "trigger": obj{"every": "1h"}})
}

type batchResponse struct {
	Results []struct {
		ID     string `json:"id"`
		Status int    `json:"status"`
		Error  *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	} `json:"results"`
}

// statuses returns "id:status" per result.
func (r batchResponse) statuses() []string {
	out := make([]string, len(r.Results))
	for i, res := range r.Results {
		out[i] = fmt.Sprintf("%s:%d", res.ID, res.Status)
		if res.Error != nil {
			out[i] += ":" + res.Error.Code
		}
	}
	return out
}

func TestServer_CreateSchedules(t *testing.T) {
	t.Parallel()

	tooMany := make([]string, maxBatchSchedules+1)
	for i := range tooMany {
		tooMany[i] = batchItem(fmt.Sprintf("s%d", i))
	}
	full := tooMany[:maxBatchSchedules]

	tests := []struct {
		name     string
		existing []string // created before the batch
		body     string
		// want: per-item "id:status[:code]" for 200, else the 400 field.
		want      []string
		wantField string
	}{
		{name: "OK", body: batchJSON(batchItem("a"), batchItem("b"), batchItem("c")),
			want: []string{"a:201", "b:201", "c:201"}},
		{name: "OneItem", body: batchJSON(batchItem("only")), want: []string{"only:201"}},
		{name: "DuplicateInBatch", body: batchJSON(batchItem("a"), batchItem("b"), batchItem("a")),
			want: []string{"a:201", "b:201", "a:409:already_exists"}},
		{name: "ExistingID", existing: []string{"b"}, body: batchJSON(batchItem("a"), batchItem("b"), batchItem("c")),
			want: []string{"a:201", "b:409:already_exists", "c:201"}},
		{name: "TooMany", body: batchJSON(tooMany...), wantField: "schedules"},
		{name: "Empty", body: `{"schedules":[]}`, wantField: "schedules"},
		{name: "Missing", body: `{}`, wantField: "schedules"},
		{name: "NotAnArray", body: `{"schedules":{}}`, wantField: "schedules"},
		{name: "UnknownTopLevelField", body: `{"schedules":[],"colour":1}`, wantField: "colour"},
		{name: "MalformedJSON", body: `{"schedules":[`, wantField: "body"},
		{name: "BadItemNamesIndex", body: batchJSON(batchItem("a"), batchItem("b"),
			scheduleJSON(obj{"id": "c", "trigger": obj{"every": "1ms"}})), wantField: "schedules[2].trigger.every"},
		{name: "ItemUnknownField", body: batchJSON(scheduleJSON(obj{"colour": "red"})), wantField: "schedules[0].colour"},
		{name: "ItemMissingID", body: batchJSON(batchItem("a"), scheduleJSON(obj{"id": nil})), wantField: "schedules[1].id"},
		{name: "ItemWrongType", body: batchJSON(batchItem("a"), scheduleJSON(obj{"max_runs": "many"})), wantField: "schedules[1].max_runs"},
		{name: "ItemNotAnObject", body: batchJSON(batchItem("a"), `"nope"`), wantField: "schedules[1]"},
		{name: "ItemNull", body: batchJSON(`null`), wantField: "schedules[0].id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			for _, id := range tt.existing {
				b.create(t, batchItem(id))
			}
			before := len(b.cluster.callLog())
			rec := b.do(t, http.MethodPost, "/v1/schedules:batch", tt.body)
			calls := b.cluster.callLog()[before:]
			if tt.wantField != "" {
				e := requireError(t, rec, http.StatusBadRequest, codeInvalidArgument, tt.wantField)
				if strings.HasPrefix(tt.wantField, "schedules[") {
					require.True(t, strings.HasPrefix(e.Error.Message, tt.wantField[:strings.Index(tt.wantField, "]")+1]), e.Error.Message)
				}
				require.Empty(t, calls, "nothing is proposed for an invalid batch")
				return
			}
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			got := decode[batchResponse](t, rec)
			require.Equal(t, tt.want, got.statuses())
			require.Equal(t, []string{"Propose"}, calls, "one Propose for the whole batch")
			for _, s := range tt.want {
				if id, ok := strings.CutSuffix(s, ":201"); ok {
					_, stored := b.cluster.fsm.Get(id)
					require.True(t, stored, id)
				}
			}
		})
	}

	t.Run("MaxItemsInOneEntry", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rec := b.do(t, http.MethodPost, "/v1/schedules:batch", batchJSON(full...))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		got := decode[batchResponse](t, rec)
		require.Len(t, got.Results, maxBatchSchedules)
		first, _ := b.cluster.fsm.Get("s0")
		last, _ := b.cluster.fsm.Get(fmt.Sprintf("s%d", maxBatchSchedules-1))
		require.NotNil(t, first)
		require.NotNil(t, last)
		require.Equal(t, first.CreatedAt, last.CreatedAt, "one entry, one leader timestamp")
		require.Equal(t, maxBatchSchedules, b.cluster.fsm.Count())
	})

	t.Run("ItemsKeepTheirFields", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		body := batchJSON(scheduleJSON(obj{"id": "p", "paused": true, "start_at": "2027-01-01T01:00:00+01:00",
			"trigger": obj{"every": "24h"}, "policy": obj{"max_retries": 7}}))
		rec := b.do(t, http.MethodPost, "/v1/schedules:batch", body)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		sc, ok := b.cluster.fsm.Get("p")
		require.True(t, ok)
		require.True(t, sc.Paused)
		require.Equal(t, 7, sc.Policy.MaxRetries)
		require.Equal(t, "2027-01-01T00:00:00Z", sc.StartAt.Format("2006-01-02T15:04:05Z07:00"))
	})

	t.Run("BodyLimit", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		big := scheduleJSON(obj{"id": "big", "params": strings.Repeat("x", 60<<10)})
		items := make([]string, maxBatchBodyBytes/(60<<10)+1)
		for i := range items {
			items[i] = big
		}
		rec := b.do(t, http.MethodPost, "/v1/schedules:batch", batchJSON(items...))
		requireError(t, rec, http.StatusBadRequest, codeInvalidArgument, "body")
	})

	t.Run("LargerThanSingleCreateLimit", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		items := make([]string, 40)
		for i := range items {
			items[i] = scheduleJSON(obj{"id": fmt.Sprintf("p%d", i), "params": strings.Repeat("x", 60<<10)})
		}
		body := batchJSON(items...)
		require.Greater(t, len(body), maxBodyBytes)
		rec := b.do(t, http.MethodPost, "/v1/schedules:batch", body)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	})

	t.Run("MethodNotAllowed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rec := b.do(t, http.MethodGet, "/v1/schedules:batch", "")
		require.Equal(t, http.StatusMethodNotAllowed, rec.Code, rec.Body.String())
	})
}

func TestServer_CreateSchedulesForwarded(t *testing.T) {
	t.Parallel()
	fb := setupForward(t)
	body := batchJSON(batchItem("a"), batchItem("b"))
	rec := fb.follower.do(t, http.MethodPost, "/v1/schedules:batch", body)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, []string{"a:201", "b:201"}, decode[batchResponse](t, rec).statuses())

	reqs, bodies := fb.received()
	require.Len(t, reqs, 1)
	require.Equal(t, "/v1/schedules:batch", reqs[0].URL.Path)
	require.Equal(t, body, string(bodies[0]))
	_, onLeader := fb.leader.cluster.fsm.Get("a")
	require.True(t, onLeader)

	// A bad batch gets its 400 from the follower; nothing is forwarded.
	rec = fb.follower.do(t, http.MethodPost, "/v1/schedules:batch", batchJSON(`1`))
	requireError(t, rec, http.StatusBadRequest, codeInvalidArgument, "schedules[0]")
	reqs, _ = fb.received()
	require.Len(t, reqs, 1)
}

func TestDecodeBatch_ItemErrorMessage(t *testing.T) {
	t.Parallel()
	_, err := decodeBatch([]byte(batchJSON(batchItem("a"), scheduleJSON(obj{"policy": obj{"overlap": "sometimes"}}))))
	var ae *apiError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "schedules[1].policy.overlap", ae.Field)
	require.Contains(t, ae.Message, `schedules[1]: policy.overlap "sometimes"`)
	b, jerr := json.Marshal(ae)
	require.NoError(t, jerr)
	require.Contains(t, string(b), `"field":"schedules[1].policy.overlap"`)
}
