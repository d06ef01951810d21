package redisnode

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ROLE replies as go-redis returns them under RESP2 (shapes captured from
// redis-server 7.0.15: a replica's port and offset in a primary's reply are
// bulk strings, a primary's port in a replica's reply is an integer).
func TestParseRole(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want Role
	}{
		{
			name: "primary with two replicas",
			in: []any{"master", int64(3129659), []any{
				[]any{"127.0.0.1", "9001", "3129242"},
				[]any{"127.0.0.1", "9002", "3129543"},
			}},
			want: Role{Role: "master", Offset: 3129659, Replicas: []RoleReplica{
				{Address: "127.0.0.1:9001", Offset: 3129242},
				{Address: "127.0.0.1:9002", Offset: 3129543},
			}},
		},
		{
			name: "primary without replicas",
			in:   []any{"master", int64(0), []any{}},
			want: Role{Role: "master"},
		},
		{
			name: "primary with an IPv6 replica",
			in:   []any{"master", int64(7), []any{[]any{"::1", "6380", "7"}}},
			want: Role{Role: "master", Offset: 7, Replicas: []RoleReplica{{Address: "[::1]:6380", Offset: 7}}},
		},
		{
			name: "replica connected",
			in:   []any{"slave", "127.0.0.1", int64(9000), "connected", int64(3167038)},
			want: Role{Role: "slave", Offset: 3167038, Primary: "127.0.0.1:9000", LinkState: "connected"},
		},
		{
			name: "replica without a link reports offset -1",
			in:   []any{"slave", "127.0.0.1", int64(17001), "connect", int64(-1)},
			want: Role{Role: "slave", Offset: -1, Primary: "127.0.0.1:17001", LinkState: "connect"},
		},
		{
			name: "replica in handshake",
			in:   []any{"slave", "10.0.0.7", int64(6379), "handshake", int64(-1)},
			want: Role{Role: "slave", Offset: -1, Primary: "10.0.0.7:6379", LinkState: "handshake"},
		},
		{
			name: "replica of an IPv6 primary",
			in:   []any{"slave", "::1", int64(6379), "sync", int64(-1)},
			want: Role{Role: "slave", Offset: -1, Primary: "[::1]:6379", LinkState: "sync"},
		},
		{
			name: "sentinel",
			in:   []any{"sentinel", []any{"resque-master", "html-fragments-master"}},
			want: Role{Role: "sentinel"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRole(tt.in)
			if err != nil {
				t.Fatalf("parseRole(%v): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseRole(%v) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseRoleRejects(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string // error substring
	}{
		{"not an array", "master", "not a non-empty array"},
		{"empty", []any{}, "not a non-empty array"},
		{"role not a string", []any{int64(1)}, "is not a string"},
		{"unknown role", []any{"leader", int64(1)}, `unknown role "leader"`},
		{"short primary", []any{"master", int64(1)}, "has 2 elements, want 3"},
		{"primary offset not a number", []any{"master", "x", []any{}}, `"x" is not an integer`},
		{"replicas not an array", []any{"master", int64(1), "none"}, "are not an array"},
		{"replica entry short", []any{"master", int64(1), []any{[]any{"127.0.0.1", "6380"}}}, "want [ip port offset]"},
		{"replica port not a number", []any{"master", int64(1), []any{[]any{"127.0.0.1", "p", "1"}}}, "port"},
		{"replica offset not a number", []any{"master", int64(1), []any{[]any{"127.0.0.1", "6380", ""}}}, "offset"},
		{"short replica", []any{"slave", "127.0.0.1", int64(6379), "connected"}, "has 4 elements, want 5"},
		{"replica host not a string", []any{"slave", int64(1), int64(6379), "connected", int64(0)}, "primary host"},
		{"replica port a float", []any{"slave", "h", 6379.0, "connected", int64(0)}, "primary port"},
		{"link state not a string", []any{"slave", "h", int64(6379), int64(1), int64(0)}, "link state"},
		{"replica offset not a number", []any{"slave", "h", int64(6379), "connected", nil}, "offset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRole(tt.in)
			if err == nil {
				t.Fatalf("parseRole(%v) = %+v, want an error containing %q", tt.in, got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseRole(%v) error %q, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}
