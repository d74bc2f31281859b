package bench

import "testing"

func TestMedianGraceful(t *testing.T) {
	tr := func(gap float64, err string) GracefulTrial { return GracefulTrial{GapMS: gap, Error: err} }
	cases := []struct {
		name string
		in   []GracefulTrial
		want *float64
	}{
		{"none", nil, nil},
		{"odd count takes the middle", []GracefulTrial{tr(90, ""), tr(40, ""), tr(60, "")}, ptr(60.0)},
		{"failed trials are ignored", []GracefulTrial{tr(90, ""), tr(1, "boom"), tr(40, "")}, ptr(40.0)},
		{"all failed gives the first", []GracefulTrial{tr(7, "a"), tr(8, "b")}, ptr(7.0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := medianGraceful(tc.in)
			switch {
			case tc.want == nil && got != nil:
				t.Fatalf("got %+v, want nil", got)
			case tc.want != nil && (got == nil || got.GapMS != *tc.want):
				t.Fatalf("got %+v, want gap %v", got, *tc.want)
			}
		})
	}
}
