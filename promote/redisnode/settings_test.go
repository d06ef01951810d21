package redisnode

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestCeilDiv(t *testing.T) {
	tests := []struct {
		d, unit time.Duration
		floor   int64
		want    int64
	}{
		{300 * time.Millisecond, time.Millisecond, 1, 300},
		{300*time.Millisecond + 1, time.Millisecond, 1, 301},
		{time.Nanosecond, time.Millisecond, 1, 1},
		{0, time.Millisecond, 1, 1},
		{-time.Second, time.Millisecond, 1, 1},
		{1500 * time.Millisecond, time.Second, 0, 2},
		{2 * time.Second, time.Second, 0, 2},
		{0, time.Second, 0, 0},
		{time.Millisecond, time.Second, 1, 1},
		{0, time.Second, 1, 1},
	}
	for _, tt := range tests {
		if got := ceilDiv(tt.d, tt.unit, tt.floor); got != tt.want {
			t.Errorf("ceilDiv(%v, %v, %d) = %d, want %d", tt.d, tt.unit, tt.floor, got, tt.want)
		}
	}
}

// Bad self-fence values fail before any I/O (the node has no address, so
// any I/O would fail with ErrNoAddress instead).
func TestSetSelfFenceRejects(t *testing.T) {
	n := Open(Options{Fleet: "f", Sentinel: "s"})
	tests := []struct {
		min  int
		lag  time.Duration
		want string
	}{
		{-1, time.Second, "min replicas -1 is negative"},
		{1, -time.Second, "max lag -1s is negative"},
		{1, 0, "max lag is 0 with 1 min replicas"},
	}
	for _, tt := range tests {
		err := n.SetSelfFence(context.Background(), tt.min, tt.lag)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("SetSelfFence(%d, %v) = %v, want an error containing %q", tt.min, tt.lag, err, tt.want)
		}
	}
}

func TestSplitPrimary(t *testing.T) {
	good := []struct{ in, host, port string }{
		{"127.0.0.1:6379", "127.0.0.1", "6379"},
		{"[::1]:6380", "::1", "6380"},
		{"redis-1.example:1", "redis-1.example", "1"},
	}
	for _, tt := range good {
		h, p, err := splitPrimary(tt.in)
		if err != nil || h != tt.host || p != tt.port {
			t.Errorf("splitPrimary(%q) = %q, %q, %v; want %q, %q", tt.in, h, p, err, tt.host, tt.port)
		}
	}
	for _, in := range []string{"", "127.0.0.1", "::1:6379", ":6379", "h:", "h:x", "h:0", "h:65536", "h:-1"} {
		if h, p, err := splitPrimary(in); err == nil {
			t.Errorf("splitPrimary(%q) = %q, %q; want an error", in, h, p)
		}
	}
}

func TestReplicaOfRejectsItself(t *testing.T) {
	n := Open(Options{Address: "127.0.0.1:6379"})
	defer n.Close()
	err := n.ReplicaOf(context.Background(), "127.0.0.1:6379")
	if err == nil || !strings.Contains(err.Error(), "is the node itself") {
		t.Errorf("ReplicaOf(itself) = %v, want an error before any I/O", err)
	}
}
