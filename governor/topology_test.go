package governor

import "testing"

func TestPlanNode_Addresses(t *testing.T) {
	cases := []struct {
		name                      string
		direct                    bool
		http, raft, zmq, handler1 string
	}{
		{"proxied", false, "127.0.2.2:30002", "127.0.2.2:30102", "127.0.2.2:30202", "127.0.3.1:30202"},
		{"direct", true, "127.0.1.2:30002", "127.0.1.2:30102", "127.0.1.2:30202", "127.0.1.2:30202"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := planNode(30000, 2, tc.direct)
			if got := a.advHTTP(); got != tc.http {
				t.Errorf("advHTTP = %s, want %s", got, tc.http)
			}
			if got := a.advRaft(); got != tc.raft {
				t.Errorf("advRaft = %s, want %s", got, tc.raft)
			}
			if got := a.advZMQ(); got != tc.zmq {
				t.Errorf("advZMQ = %s, want %s", got, tc.zmq)
			}
			if got := a.handlerZMQ(1); got != tc.handler1 {
				t.Errorf("handlerZMQ(1) = %s, want %s", got, tc.handler1)
			}
			if a.bindRaft() != "127.0.1.2:30102" {
				t.Errorf("bindRaft = %s", a.bindRaft())
			}
		})
	}
}
