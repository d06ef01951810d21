package redisnode

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// infoPrimary is INFO replication of a redis-server 7.0.15 primary with
// one replica in full sync and two online.
const infoPrimary = "# Replication\r\n" +
	"role:master\r\n" +
	"connected_slaves:3\r\n" +
	"slave0:ip=127.0.0.1,port=17002,state=wait_bgsave,offset=0,lag=0\r\n" +
	"slave1:ip=127.0.0.1,port=17003,state=online,offset=4242,lag=1\r\n" +
	"slave2:ip=::1,port=17004,state=online,offset=4242,lag=3\r\n" +
	"master_failover_state:no-failover\r\n" +
	"master_replid:91e2bbecb2ff3d22b50e642e746fd65036cd41f9\r\n" +
	"master_replid2:0000000000000000000000000000000000000000\r\n" +
	"master_repl_offset:4242\r\n" +
	"second_repl_offset:-1\r\n"

// infoReplica is the same of a replica: no replica lines.
const infoReplicaOnly = "# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:17001\r\n" +
	"master_link_status:up\r\nslave_read_repl_offset:4242\r\nslave_repl_offset:4242\r\nslave_priority:100\r\n" +
	"slave_read_only:1\r\nreplica_announced:1\r\nconnected_slaves:0\r\n"

func TestParseInfoReplicas(t *testing.T) {
	got, err := parseInfoReplicas(infoPrimary)
	if err != nil {
		t.Fatalf("parseInfoReplicas: %v", err)
	}
	want := []infoReplica{
		{Address: "127.0.0.1:17002", State: "wait_bgsave", Offset: 0, Lag: 0},
		{Address: "127.0.0.1:17003", State: "online", Offset: 4242, Lag: 1},
		{Address: "[::1]:17004", State: "online", Offset: 4242, Lag: 3},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseInfoReplicas (-want +got):\n%s", diff)
	}
	for lag, want := range map[int64]int{0: 0, 1: 1, 2: 1, 3: 2, 10: 2} {
		if got := countFresh(got, lag); got != want {
			t.Errorf("countFresh(max lag %ds) = %d, want %d (a replica in full sync never counts)", lag, got, want)
		}
	}

	if got, err := parseInfoReplicas(infoReplicaOnly); err != nil || len(got) != 0 {
		t.Errorf("parseInfoReplicas(replica's INFO) = %v, %v; want none", got, err)
	}
	if got, err := parseInfoReplicas("slave0:ip=127.0.0.1,port=1,state=online,offset=x,lag=0\n"); err == nil {
		t.Errorf("parseInfoReplicas(bad offset) = %v, want an error", got)
	}
}
