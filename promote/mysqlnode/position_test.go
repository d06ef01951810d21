package mysqlnode

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/promote/mysqlsql"
)

func readChannel(t *testing.T, name string, i int) Channel {
	t.Helper()
	rows := readFixture(t, name)
	c, err := channelOf(rows[i])
	if err != nil {
		t.Fatalf("channelOf(%s row %d): %v", name, i, err)
	}
	return c
}

func TestChannelOf(t *testing.T) {
	tests := []struct {
		file string
		row  int
		want func(c Channel) []string // problems
	}{
		{"mariadb_replica.channels.json", 0, func(c Channel) []string {
			return checks(
				c.Name == "", "default channel",
				c.Source == "127.0.0.1:23306", "source 127.0.0.1:23306",
				c.IO == probe.IORunning && c.SQLRunning, "both threads running",
				c.GTIDIOPos == "0-1-3", "Gtid_IO_Pos 0-1-3",
				c.UsingGTID, "using GTID",
				c.HeartbeatPeriod == time.Second, "heartbeat 1s",
				c.LastIOErrno == 0 && c.LastSQLErrno == 0, "no errors",
				c.SQLState == "Slave has read all relay log; waiting for more updates", "SQL state",
			)
		}},
		{"mariadb_replica_sql_error.channels.json", 0, func(c Channel) []string {
			return checks(
				c.IO == probe.IORunning && !c.SQLRunning, "IO running, SQL stopped",
				c.LastSQLErrno == 1950 && strings.Contains(c.LastSQLError, "gtid strict mode"), "SQL error 1950",
			)
		}},
		{"mariadb_replica_primary_dead.channels.json", 1, func(c Channel) []string {
			return checks(
				c.Name == "extra", "channel 'extra'",
				c.IO == probe.IOConnecting && c.LastIOErrno == 2003, "IO connecting with 2003",
				c.HeartbeatPeriod == 2*time.Second, "heartbeat 2s",
			)
		}},
		{"mysql8_replica.channels.json", 0, func(c Channel) []string {
			return checks(
				c.Name == "", "default channel",
				c.IO == probe.IORunning && c.SQLRunning, "both threads running (Replica_ columns)",
				c.RetrievedGTIDSet == "73f86016-978b-11ea-91ed-0242ac110002:1-3", "Retrieved_Gtid_Set",
				c.SQLState == "Replica has read all relay log; waiting for more updates", "SQL state",
				strings.HasPrefix(c.Source, "127.0.0.1:"), "source 127.0.0.1",
			)
		}},
	}
	for _, tt := range tests {
		c := readChannel(t, tt.file, tt.row)
		for _, p := range tt.want(c) {
			t.Errorf("%s row %d: want %s, got %+v", tt.file, tt.row, p, c)
		}
	}
}

// checks returns the descriptions whose condition is false; its arguments
// are condition, description pairs.
func checks(pairs ...any) []string {
	var bad []string
	for i := 0; i < len(pairs); i += 2 {
		if !pairs[i].(bool) {
			bad = append(bad, pairs[i+1].(string))
		}
	}
	return bad
}

func TestChannelOfRejects(t *testing.T) {
	for name, r := range map[string]row{
		"no SQL running column":  {"Slave_IO_Running": "Yes"},
		"unknown IO state":       {"Slave_IO_Running": "Maybe", "Slave_SQL_Running": "Yes"},
		"bad errno":              {"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes", "Last_IO_Errno": "x"},
		"bad heartbeat":          {"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes", "Slave_heartbeat_period": "-1"},
		"SQL running not a flag": {"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Perhaps"},
	} {
		if c, err := channelOf(r); err == nil {
			t.Errorf("%s: channelOf(%v) = %+v, want an error", name, r, c)
		}
	}
}

// TestChannelOfPreparing: MariaDB 10.11 shows Slave_IO_Running "Preparing"
// right after START SLAVE (seen in test/mysqlnode): started, not connected.
func TestChannelOfPreparing(t *testing.T) {
	c, err := channelOf(row{"Connection_name": "", "Slave_IO_Running": "Preparing", "Slave_SQL_Running": "Yes"})
	if err != nil || c.IO != probe.IOConnecting {
		t.Errorf("channelOf(Slave_IO_Running Preparing) = IO %v, %v; want connecting", c.IO, err)
	}
}

func TestVarsPosition(t *testing.T) {
	maria := mysqlsql.MariaDB(10, 11, 19)
	p, err := varsPosition(maria, readFixture(t, "mariadb_replica.vars.json")[0])
	if err != nil {
		t.Fatalf("varsPosition(mariadb_replica.vars.json): %v", err)
	}
	want := Position{Flavor: maria, ServerID: 2, ReadOnly: true, GTIDBinlogPos: "0-1-3", GTIDBinlogState: "0-1-3",
		GTIDSlavePos: "0-1-3", GTIDCurrentPos: "0-1-3"}
	if d := cmp.Diff(want, p); d != "" {
		t.Errorf("varsPosition(mariadb_replica.vars.json) (-want +got):\n%s", d)
	}
	if p.Applied() != "0-1-3" {
		t.Errorf("Applied() = %q, want gtid_slave_pos 0-1-3", p.Applied())
	}

	mysql8 := mysqlsql.MySQL(8, 0, 36)
	p, err = varsPosition(mysql8, readFixture(t, "mysql8_primary.vars.json")[0])
	if err != nil {
		t.Fatalf("varsPosition(mysql8_primary.vars.json): %v", err)
	}
	exec := "2174b383-5441-11e8-b90a-c80aa9429562:1-3,73f86016-978b-11ea-91ed-0242ac110002:1-9"
	if p.GTIDExecuted != exec || p.Applied() != exec || !p.SuperReadOnly || p.ServerUUID != "73f86016-978b-11ea-91ed-0242ac110002" {
		t.Errorf("varsPosition(mysql8_primary.vars.json) = %+v, want gtid_executed %q without newlines, super_read_only, the uuid", p, exec)
	}

	// A NULL or missing variable is an error, not a zero.
	r := readFixture(t, "mariadb_replica.vars.json")[0]
	delete(r, "gtid_slave_pos")
	if _, err := varsPosition(maria, r); err == nil || !strings.Contains(err.Error(), "gtid_slave_pos") {
		t.Errorf("varsPosition without gtid_slave_pos: %v, want an error naming it", err)
	}
	if _, err := varsPosition(mysql8, row{"server_id": "1", "read_only": "0"}); err == nil {
		t.Error("varsPosition on MySQL without gtid_executed, server_uuid, super_read_only: no error")
	}
}

func TestPositionChannel(t *testing.T) {
	extra := Channel{Channel: probe.Channel{Name: "extra"}}
	def := Channel{Channel: probe.Channel{Name: "", Source: "10.0.0.1:3306"}}
	if c, ok := (Position{Channels: []Channel{extra, def}}).Channel(); !ok || c.Source != "10.0.0.1:3306" {
		t.Errorf("Channel() = %+v, %v; want the default channel", c, ok)
	}
	if c, ok := (Position{Channels: []Channel{extra}}).Channel(); ok {
		t.Errorf("Channel() with only a named channel = %+v, want none", c)
	}
}
