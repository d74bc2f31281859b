package trigger

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAt_Next(t *testing.T) {
	t.Parallel()

	trig := mustCompile(t, Spec{At: "2025-06-01T11:00:00+02:00"}, time.Time{})
	tests := []struct {
		name, in string
		wantOK   bool
	}{
		{"Before", "2025-06-01T08:59:59.999Z", true},
		{"LongBefore", "1970-01-01T00:00:00Z", true},
		{"Equal", "2025-06-01T09:00:00Z", false},
		{"After", "2025-06-01T09:00:00.000000001Z", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			next, ok := trig.Next(mustTime(t, tt.in))
			require.Equal(t, tt.wantOK, ok)
			if ok {
				require.Equal(t, "2025-06-01T09:00:00Z", next.Format(time.RFC3339Nano))
			} else {
				require.True(t, next.IsZero())
			}
		})
	}
}
