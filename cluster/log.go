package cluster

// Attribute keys used in every log record of this package (and in the raft
// library's records, through the hclog adapter), so that log queries can
// rely on them.
const (
	logKeyComponent = "component"
	logKeyNodeID    = "node_id"
	logKeyLogger    = "logger"
	logKeyPeerID    = "peer_id"
	logKeyAddr      = "addr"
	logKeyTerm      = "term"
	logKeyIndex     = "index"
	logKeyLeaderID  = "leader_id"
	logKeyErr       = "err"
	logKeyDuration  = "duration"
	logKeyBytes     = "bytes"
)
