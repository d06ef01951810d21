package mysqlnode

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSessionsOf(t *testing.T) {
	rows := []row{
		{"ID": "7", "USER": "imsentinel", "HOST": "127.0.0.1:40112", "COMMAND": "Sleep"},
		{"ID": "8", "USER": "imsentinel", "HOST": "127.0.0.1:40114", "COMMAND": "Query"},
		// The replication account is the admin one here: its binlog dumps
		// feed replicas and are never killed.
		{"ID": "9", "USER": "imsentinel", "HOST": "127.0.0.1:40200", "COMMAND": "Binlog Dump"},
		{"ID": "10", "USER": "imsentinel", "HOST": "127.0.0.1:40202", "COMMAND": "Binlog Dump GTID"},
		{"ID": "11", "USER": "imsentinel", "COMMAND": "Sleep"}, // HOST NULL
	}
	got, err := sessionsOf(rows)
	if err != nil {
		t.Fatal(err)
	}
	want := []session{
		{ID: 7, User: "imsentinel", Host: "127.0.0.1:40112", Command: "Sleep"},
		{ID: 8, User: "imsentinel", Host: "127.0.0.1:40114", Command: "Query"},
		{ID: 11, User: "imsentinel", Command: "Sleep"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("sessionsOf (-want +got):\n%s", d)
	}
	for _, bad := range []row{{"USER": "x"}, {"ID": "seven"}} {
		if s, err := sessionsOf([]row{bad}); err == nil {
			t.Errorf("sessionsOf(%v) = %v, want an error", bad, s)
		}
	}
}
