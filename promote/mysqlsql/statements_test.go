package mysqlsql

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// steps wraps every generator as func(Flavor) ([]Stmt, error), with the
// inputs of the statement tables.
func steps() map[string]func(Flavor) ([]Stmt, error) {
	one := func(s Stmt, err error) ([]Stmt, error) {
		if err != nil {
			return nil, err
		}
		return []Stmt{s}, nil
	}
	return map[string]func(Flavor) ([]Stmt, error){
		"SessionSetup":            SessionSetup,
		"StopIOThread":            func(f Flavor) ([]Stmt, error) { return one(StopIOThread(f)) },
		"StartIOThread":           func(f Flavor) ([]Stmt, error) { return one(StartIOThread(f)) },
		"Fence":                   func(f Flavor) ([]Stmt, error) { return Fence(f, 2*time.Second) },
		"AppSessions":             func(f Flavor) ([]Stmt, error) { return one(AppSessions(f, []string{"imsentinel", "dba"})) },
		"UserSessions":            func(f Flavor) ([]Stmt, error) { return one(UserSessions(f, []string{"imsentinel"})) },
		"Kill":                    func(f Flavor) ([]Stmt, error) { return one(Kill(f, 42)) },
		"WaitApplied":             func(f Flavor) ([]Stmt, error) { return one(WaitApplied(f, gtidsFor(f), 1500*time.Millisecond)) },
		"StopAndResetReplication": StopAndResetReplication,
		"SemiSyncPrimary": func(f Flavor) ([]Stmt, error) {
			return SemiSyncPrimary(f, SemiSync{Names: namesFor(f), Timeout: time.Hour, Acks: 1})
		},
		"SemiSyncPrimaryRelaxed": func(f Flavor) ([]Stmt, error) {
			return SemiSyncPrimary(f, SemiSync{Names: namesFor(f), Timeout: time.Hour, Acks: 0})
		},
		"DisableSemiSync":   func(f Flavor) ([]Stmt, error) { return one(DisableSemiSync(f, namesFor(f))) },
		"Unfence":           Unfence,
		"Repoint":           func(f Flavor) ([]Stmt, error) { return Repoint(f, source()) },
		"RepointDemote":     func(f Flavor) ([]Stmt, error) { s := source(); s.Demote, s.SSL = true, true; return Repoint(f, s) },
		"StartReplication":  func(f Flavor) ([]Stmt, error) { return one(StartReplication(f)) },
		"SetHeartbeat":      func(f Flavor) ([]Stmt, error) { return SetHeartbeat(f, time.Second, false) },
		"BinaryLogStatus":   func(f Flavor) ([]Stmt, error) { return one(BinaryLogStatus(f)) },
		"ReplicaStatus":     func(f Flavor) ([]Stmt, error) { return one(ReplicaStatus(f)) },
		"GTIDPosition":      func(f Flavor) ([]Stmt, error) { return one(GTIDPosition(f)) },
		"SemiSyncVariables": func(f Flavor) ([]Stmt, error) { return one(SemiSyncVariables(f)) },
	}
}

func gtidsFor(f Flavor) string {
	if f.mariadb() {
		return "0-1-9566,1-2-33"
	}
	return "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-57,\n4f22ab58-71ca-11e1-9e33-c80aa9429562:1-3"
}

// namesFor is the semi-sync naming the tables assume: the new plugin from
// MySQL 8.0.26 (the version does not say; TestSemiSyncNames covers the old
// plugin there).
func namesFor(f Flavor) SemiSyncNames {
	if f.sourcePlugin() {
		return SemiSyncSource
	}
	return SemiSyncNamesUnknown
}

func source() Source {
	return Source{Host: "10.0.0.2", Port: 3306, User: "repl", Password: `s3cr'e\t`, Heartbeat: 500 * time.Millisecond, ConnectRetry: time.Second}
}

// want is the exact SQL of one step on each server. Servers not listed
// have the same statements as the previous one in this order.
var tableOrder = []Flavor{mariadb1011, mysql8021, mysql8022, mysql8023, mysql8026, mysql84}

func TestStatements(t *testing.T) {
	const (
		appSessions  = "SELECT ID, USER, HOST, COMMAND FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND USER NOT IN ('system user', 'event_scheduler', 'imsentinel', 'dba') AND COMMAND NOT IN ('Binlog Dump', 'Binlog Dump GTID', 'Daemon') ORDER BY ID"
		userSessions = "SELECT ID, USER, HOST, COMMAND FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND USER IN ('imsentinel') ORDER BY ID"
		mysqlWait    = "SELECT WAIT_FOR_EXECUTED_GTID_SET('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-57,\\n4f22ab58-71ca-11e1-9e33-c80aa9429562:1-3', 1.5)"
		pw           = `'s3cr\'e\\t'`
		masterOpts   = "MASTER_HOST='10.0.0.2', MASTER_PORT=3306, MASTER_USER='repl', MASTER_PASSWORD=" + pw
		sourceOpts   = "SOURCE_HOST='10.0.0.2', SOURCE_PORT=3306, SOURCE_USER='repl', SOURCE_PASSWORD=" + pw
	)
	tests := map[string]map[Flavor][]string{
		"SessionSetup": {mariadb1011: {"SET NAMES utf8mb4", "SET SESSION sql_mode='TRADITIONAL'"}},
		"StopIOThread": {
			mariadb1011: {"STOP SLAVE IO_THREAD"},
			mysql8022:   {"STOP REPLICA IO_THREAD"},
		},
		"StartIOThread": {
			mariadb1011: {"START SLAVE IO_THREAD"},
			mysql8021:   {"START SLAVE IO_THREAD"},
			mysql8022:   {"START REPLICA IO_THREAD"},
		},
		"Fence": {
			mariadb1011: {"SET SESSION lock_wait_timeout=2", "SET GLOBAL read_only=ON"},
			mysql8021:   {"SET SESSION lock_wait_timeout=2", "SET GLOBAL read_only=ON", "SET GLOBAL super_read_only=ON"},
		},
		"AppSessions":  {mariadb1011: {appSessions}},
		"UserSessions": {mariadb1011: {userSessions}},
		"Kill":         {mariadb1011: {"KILL CONNECTION 42"}},
		"WaitApplied": {
			mariadb1011: {"SELECT MASTER_GTID_WAIT('0-1-9566,1-2-33', 1.5)"},
			mysql8021:   {mysqlWait},
		},
		"StopAndResetReplication": {
			mariadb1011: {"STOP SLAVE", "RESET SLAVE ALL"},
			mysql8022:   {"STOP REPLICA", "RESET REPLICA ALL"},
		},
		"SemiSyncPrimary": {
			mariadb1011: {
				"SET GLOBAL rpl_semi_sync_master_wait_point=AFTER_SYNC",
				"SET GLOBAL rpl_semi_sync_master_wait_no_slave=ON",
				"SET GLOBAL rpl_semi_sync_master_timeout=3600000",
				"SET GLOBAL rpl_semi_sync_master_enabled=ON",
			},
			mysql8021: {
				"SET GLOBAL rpl_semi_sync_master_wait_point=AFTER_SYNC",
				"SET GLOBAL rpl_semi_sync_master_wait_no_slave=ON",
				"SET GLOBAL rpl_semi_sync_master_timeout=3600000",
				"SET GLOBAL rpl_semi_sync_master_wait_for_slave_count=1",
				"SET GLOBAL rpl_semi_sync_master_enabled=ON",
			},
			mysql8026: {
				"SET GLOBAL rpl_semi_sync_source_wait_point=AFTER_SYNC",
				"SET GLOBAL rpl_semi_sync_source_wait_no_replica=ON",
				"SET GLOBAL rpl_semi_sync_source_timeout=3600000",
				"SET GLOBAL rpl_semi_sync_source_wait_for_replica_count=1",
				"SET GLOBAL rpl_semi_sync_source_enabled=ON",
			},
		},
		"SemiSyncPrimaryRelaxed": {
			mariadb1011: {
				"SET GLOBAL rpl_semi_sync_master_wait_point=AFTER_SYNC",
				"SET GLOBAL rpl_semi_sync_master_wait_no_slave=OFF",
				"SET GLOBAL rpl_semi_sync_master_timeout=3600000",
				"SET GLOBAL rpl_semi_sync_master_enabled=ON",
			},
			mysql8021: {
				"SET GLOBAL rpl_semi_sync_master_wait_point=AFTER_SYNC",
				"SET GLOBAL rpl_semi_sync_master_wait_no_slave=OFF",
				"SET GLOBAL rpl_semi_sync_master_timeout=3600000",
				"SET GLOBAL rpl_semi_sync_master_wait_for_slave_count=1",
				"SET GLOBAL rpl_semi_sync_master_enabled=ON",
			},
			mysql8026: {
				"SET GLOBAL rpl_semi_sync_source_wait_point=AFTER_SYNC",
				"SET GLOBAL rpl_semi_sync_source_wait_no_replica=OFF",
				"SET GLOBAL rpl_semi_sync_source_timeout=3600000",
				"SET GLOBAL rpl_semi_sync_source_wait_for_replica_count=1",
				"SET GLOBAL rpl_semi_sync_source_enabled=ON",
			},
		},
		"DisableSemiSync": {
			mariadb1011: {"SET GLOBAL rpl_semi_sync_master_enabled=OFF"},
			mysql8026:   {"SET GLOBAL rpl_semi_sync_source_enabled=OFF"},
		},
		"Unfence": {
			mariadb1011: {"SET GLOBAL read_only=OFF"},
			mysql8021:   {"SET GLOBAL super_read_only=OFF", "SET GLOBAL read_only=OFF"},
		},
		"Repoint": {
			mariadb1011: {"STOP SLAVE", "CHANGE MASTER TO " + masterOpts + ", MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=0.5", "START SLAVE"},
			mysql8021:   {"STOP SLAVE", "CHANGE MASTER TO " + masterOpts + ", MASTER_AUTO_POSITION=1, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=0.5", "START SLAVE"},
			mysql8022:   {"STOP REPLICA", "CHANGE MASTER TO " + masterOpts + ", MASTER_AUTO_POSITION=1, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=0.5", "START REPLICA"},
			mysql8023:   {"STOP REPLICA", "CHANGE REPLICATION SOURCE TO " + sourceOpts + ", SOURCE_AUTO_POSITION=1, SOURCE_CONNECT_RETRY=1, SOURCE_HEARTBEAT_PERIOD=0.5", "START REPLICA"},
		},
		"RepointDemote": {
			mariadb1011: {"STOP SLAVE", "CHANGE MASTER TO " + masterOpts + ", MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=0.5, MASTER_SSL=1, MASTER_DEMOTE_TO_SLAVE=1", "START SLAVE"},
			mysql8021:   {"STOP SLAVE", "CHANGE MASTER TO " + masterOpts + ", MASTER_AUTO_POSITION=1, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=0.5, MASTER_SSL=1", "START SLAVE"},
			mysql8022:   {"STOP REPLICA", "CHANGE MASTER TO " + masterOpts + ", MASTER_AUTO_POSITION=1, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=0.5, MASTER_SSL=1", "START REPLICA"},
			mysql8023:   {"STOP REPLICA", "CHANGE REPLICATION SOURCE TO " + sourceOpts + ", SOURCE_AUTO_POSITION=1, SOURCE_CONNECT_RETRY=1, SOURCE_HEARTBEAT_PERIOD=0.5, SOURCE_SSL=1", "START REPLICA"},
		},
		"StartReplication": {
			mariadb1011: {"START SLAVE"},
			mysql8022:   {"START REPLICA"},
		},
		"SetHeartbeat": {
			mariadb1011: {"STOP SLAVE", "CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=1", "START SLAVE"},
			mysql8021:   {"STOP SLAVE IO_THREAD", "CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=1", "START SLAVE IO_THREAD"},
			mysql8022:   {"STOP REPLICA IO_THREAD", "CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=1", "START REPLICA IO_THREAD"},
			mysql8023:   {"STOP REPLICA IO_THREAD", "CHANGE REPLICATION SOURCE TO SOURCE_HEARTBEAT_PERIOD=1", "START REPLICA IO_THREAD"},
		},
		"BinaryLogStatus": {
			mariadb1011: {"SHOW MASTER STATUS"},
			mysql84:     {"SHOW BINARY LOG STATUS"},
		},
		"ReplicaStatus": {
			mariadb1011: {"SHOW ALL SLAVES STATUS"},
			mysql8021:   {"SHOW SLAVE STATUS"},
			mysql8022:   {"SHOW REPLICA STATUS"},
		},
		"GTIDPosition": {
			mariadb1011: {"SELECT @@GLOBAL.gtid_binlog_pos AS gtid_position"},
			mysql8021:   {"SELECT @@GLOBAL.gtid_executed AS gtid_position"},
		},
		"SemiSyncVariables": {mariadb1011: {"SHOW GLOBAL VARIABLES LIKE 'rpl_semi_sync%'"}},
	}
	gens := steps()
	for name := range gens {
		if _, ok := tests[name]; !ok {
			t.Errorf("no statement table for %s", name)
		}
	}
	for name, byFlavor := range tests {
		gen := gens[name]
		var want []string
		for _, f := range tableOrder {
			if w, ok := byFlavor[f]; ok {
				want = w
			}
			want := want
			t.Run(name+"/"+f.String(), func(t *testing.T) {
				got, err := gen(f)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, sqls(got)); diff != "" {
					t.Errorf("%s on %v (-want +got):\n%s", name, f, diff)
				}
				for _, s := range got {
					if s.Why == "" {
						t.Errorf("%s on %v: %q has no Why", name, f, s)
					}
				}
			})
		}
	}
}

func sqls(stmts []Stmt) []string {
	out := make([]string, len(stmts))
	for i, s := range stmts {
		out[i] = s.SQL()
	}
	return out
}

// The version boundaries one by one, on each side.
func TestVersionBoundaries(t *testing.T) {
	tests := []struct {
		f    Flavor
		gen  func(Flavor) (Stmt, error)
		want string
	}{
		{MySQL(8, 0, 21), StopIOThread, "STOP SLAVE IO_THREAD"},
		{MySQL(8, 0, 22), StopIOThread, "STOP REPLICA IO_THREAD"},
		{MySQL(8, 0, 21), StartIOThread, "START SLAVE IO_THREAD"},
		{MySQL(8, 0, 22), StartIOThread, "START REPLICA IO_THREAD"},
		{MySQL(8, 0, 21), ReplicaStatus, "SHOW SLAVE STATUS"},
		{MySQL(8, 0, 22), ReplicaStatus, "SHOW REPLICA STATUS"},
		{MySQL(8, 1, 0), BinaryLogStatus, "SHOW MASTER STATUS"},
		{MySQL(8, 2, 0), BinaryLogStatus, "SHOW BINARY LOG STATUS"},
		{MySQL(9, 1, 0), BinaryLogStatus, "SHOW BINARY LOG STATUS"},
		{MariaDB(11, 8, 2), BinaryLogStatus, "SHOW MASTER STATUS"},
		{MariaDB(11, 8, 2), StopIOThread, "STOP SLAVE IO_THREAD"},
	}
	for _, tt := range tests {
		s, err := tt.gen(tt.f)
		if err != nil || s.SQL() != tt.want {
			t.Errorf("%v: got %q, %v; want %q", tt.f, s.SQL(), err, tt.want)
		}
	}
	for _, tt := range []struct {
		f    Flavor
		want string
	}{
		{MySQL(8, 0, 22), "CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=1"},
		{MySQL(8, 0, 23), "CHANGE REPLICATION SOURCE TO SOURCE_HEARTBEAT_PERIOD=1"},
	} {
		s, err := SetHeartbeat(tt.f, time.Second, false)
		if err != nil || s[1].SQL() != tt.want {
			t.Errorf("SetHeartbeat on %v: got %v, %v; want %q", tt.f, sqls(s), err, tt.want)
		}
	}
}

// MySQL 5.7 (and any server older than supported, or unknown) is refused by
// every step, naming the server.
func TestUnsupportedServers(t *testing.T) {
	for name, gen := range steps() {
		for _, f := range []Flavor{mysql57, MariaDB(10, 5, 27), {}} {
			s, err := gen(f)
			if !errors.Is(err, ErrUnsupported) || s != nil {
				t.Errorf("%s on %v: %v, %v; want ErrUnsupported", name, f, s, err)
			}
		}
	}
	_, err := StopIOThread(mysql57)
	if want := "stop the IO thread: mysql 5.7.44: MySQL older than 8.0.0 (5.7 reached its end of life in October 2023): not supported by this server"; err.Error() != want {
		t.Errorf("err %q\nwant %q", err, want)
	}
}

func TestInvalidInputs(t *testing.T) {
	bad := func(mut func(*Source)) Source { s := source(); mut(&s); return s }
	tests := []struct {
		name string
		err  error
		is   error
		want []string
	}{
		{"repoint: everything wrong at once", second(Repoint(mariadb1011, Source{Host: "db 1", Port: 0, User: "", Password: "a\nb", Heartbeat: 1500 * time.Microsecond, ConnectRetry: 0})), ErrInvalid, []string{
			`repoint on mariadb 10.11.19: host "db 1" is neither an IP address nor a DNS name (character ' '): invalid input`,
			"port 0 is outside 1-65535",
			"user is empty",
			"password has the control character U+000A",
			"heartbeat 1.5ms is not a whole number of 1ms",
			"connect retry 0s is outside 1s-1h0m0s",
		}},
		{"repoint: empty host", second(Repoint(mysql84, bad(func(s *Source) { s.Host = "" }))), ErrInvalid, []string{"host is empty"}},
		{"repoint: host with port", second(Repoint(mysql84, bad(func(s *Source) { s.Host = "10.0.0.2:3306" }))), ErrInvalid, []string{"neither an IP address nor a DNS name"}},
		{"repoint: port 65536", second(Repoint(mysql84, bad(func(s *Source) { s.Port = 65536 }))), ErrInvalid, []string{"port 65536 is outside 1-65535"}},
		// DESIGN.md §5.4: heartbeat over 1 s refused unless allowed.
		{"repoint: heartbeat 2s", second(Repoint(mariadb1011, bad(func(s *Source) { s.Heartbeat = 2 * time.Second }))), ErrInvalid, []string{"heartbeat 2s is longer than 1s: replica vantage needs I/O from the primary at least that often (DESIGN.md §5.4)"}},
		{"repoint: heartbeat 0", second(Repoint(mariadb1011, bad(func(s *Source) { s.Heartbeat = 0 }))), ErrInvalid, []string{"heartbeat 0s turns heartbeats off"}},
		{"repoint: heartbeat past the server's maximum", second(Repoint(mariadb1011, bad(func(s *Source) { s.Heartbeat, s.AllowSlowHeartbeat = 4294968*time.Second, true }))), ErrInvalid, []string{"heartbeat 1193h2m48s is outside 1ms-1193h2m47s"}},
		{"repoint: user with NUL", second(Repoint(mariadb1011, bad(func(s *Source) { s.User = "re\x00pl" }))), ErrInvalid, []string{"user has the control character U+0000"}},
		{"repoint: password not UTF-8", second(Repoint(mariadb1011, bad(func(s *Source) { s.Password = "\xff" }))), ErrInvalid, []string{"password is not valid UTF-8"}},
		{"repoint: connect retry 1.5s", second(Repoint(mariadb1011, bad(func(s *Source) { s.ConnectRetry = 1500 * time.Millisecond }))), ErrInvalid, []string{"connect retry 1.5s is not a whole number of 1s"}},
		{"repoint: demote before MariaDB 10.10", second(Repoint(MariaDB(10, 6, 21), bad(func(s *Source) { s.Demote = true }))), ErrUnsupported, []string{"MASTER_DEMOTE_TO_SLAVE needs MariaDB 10.10 or later"}},
		{"heartbeat: negative", second(SetHeartbeat(mysql84, -time.Second, false)), ErrInvalid, []string{"heartbeat -1s turns heartbeats off"}},
		{"heartbeat: 1.5s", second(SetHeartbeat(mysql84, 1500*time.Millisecond, false)), ErrInvalid, []string{"heartbeat 1.5s is longer than 1s"}},
		{"wait: negative timeout", second(WaitApplied(mariadb1011, "0-1-5", -time.Second)), ErrInvalid, []string{"timeout -1s is outside (0, 1h0m0s]: 0 or less would wait forever"}},
		{"wait: zero timeout", second(WaitApplied(mysql84, "", 0)), ErrInvalid, []string{"timeout 0s is outside (0, 1h0m0s]"}},
		{"wait: quote in the set", second(WaitApplied(mariadb1011, "0-1-5'", time.Second)), ErrInvalid, []string{`GTID set "0-1-5'" has '\'', which no mariadb GTID set has`}},
		{"wait: MySQL set on MariaDB", second(WaitApplied(mariadb1011, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", time.Second)), ErrInvalid, []string{"which no mariadb GTID set has"}},
		{"fence: lock wait 0", second(Fence(mariadb1011, 0)), ErrInvalid, []string{"lock wait 0s is outside 1s-1m0s"}},
		{"fence: lock wait 1.5s", second(Fence(mysql84, 1500*time.Millisecond)), ErrInvalid, []string{"lock wait 1.5s is not a whole number of 1s"}},
		{"semi-sync: zero timeout, negative acks", second(SemiSyncPrimary(mariadb1011, SemiSync{Timeout: 0, Acks: -1})), ErrInvalid, []string{"semi-sync timeout 0s is outside", "acks -1 is negative"}},
		{"semi-sync: sub-millisecond timeout", second(SemiSyncPrimary(mysql8021, SemiSync{Timeout: 1500 * time.Microsecond, Acks: 1})), ErrInvalid, []string{"semi-sync timeout 1.5ms is not a whole number of 1ms"}},
		{"semi-sync: two acks on MariaDB", second(SemiSyncPrimary(mariadb1011, SemiSync{Timeout: time.Second, Acks: 2})), ErrUnsupported, []string{"acks 2: MariaDB waits for one replica's acknowledgement"}},
		{"semi-sync: naming unknown on 8.0.26", second(SemiSyncPrimary(mysql8026, SemiSync{Timeout: time.Second, Acks: 1})), ErrInvalid, []string{"semi-sync naming unknown"}},
		{"semi-sync: naming unknown on 8.4", second(DisableSemiSync(mysql84, SemiSyncNamesUnknown)), ErrInvalid, []string{"semi-sync naming unknown"}},
		{"semi-sync: source plugin on 8.0.21", second(SemiSyncPrimary(mysql8021, SemiSync{Names: SemiSyncSource, Timeout: time.Second, Acks: 1})), ErrUnsupported, []string{"the rpl_semi_sync_source plugin needs MySQL 8.0.26 or later"}},
		{"semi-sync: source plugin on MariaDB", second(DisableSemiSync(mariadb1011, SemiSyncSource)), ErrUnsupported, []string{"rpl_semi_sync_source plugin needs MySQL 8.0.26"}},
		{"sessions: empty spare user", second(AppSessions(mariadb1011, []string{"dba", ""})), ErrInvalid, []string{`user "" is empty`}},
		{"sessions: spare user with NUL", second(AppSessions(mysql84, []string{"d\x00ba"})), ErrInvalid, []string{`user "d\x00ba" has the control character U+0000`}},
		{"sessions: no user", second(UserSessions(mariadb1011, nil)), ErrInvalid, []string{"no user named"}},
		{"kill: id 0", second(Kill(mariadb1011, 0)), ErrInvalid, []string{"session id 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.is) {
				t.Fatalf("err %v; want %v", tt.err, tt.is)
			}
			for _, w := range tt.want {
				if !strings.Contains(tt.err.Error(), w) {
					t.Errorf("err %q\nlacks %q", tt.err, w)
				}
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }

// Allowed on purpose, and the edges that are valid.
func TestValidEdges(t *testing.T) {
	s := source()
	s.Heartbeat, s.AllowSlowHeartbeat = 30*time.Second, true
	if got, err := Repoint(mariadb1011, s); err != nil || !strings.Contains(got[1].SQL(), "MASTER_HEARTBEAT_PERIOD=30") {
		t.Errorf("slow heartbeat allowed: %v, %v", sqls(got), err)
	}
	s = source()
	s.Host, s.Password, s.Heartbeat = "::1", "", time.Millisecond
	if got, err := Repoint(mysql84, s); err != nil || !strings.Contains(got[1].SQL(), "SOURCE_HOST='::1'") ||
		!strings.Contains(got[1].SQL(), "SOURCE_PASSWORD=''") || !strings.Contains(got[1].SQL(), "SOURCE_HEARTBEAT_PERIOD=0.001") {
		t.Errorf("IPv6, empty password, 1 ms: %v, %v", sqls(got), err)
	}
	if got, err := WaitApplied(mysql84, "3e11fa47-71ca-11e1-9e33-c80aa9429562:tag_1:1-5", 1500*time.Microsecond); err != nil ||
		got.SQL() != "SELECT WAIT_FOR_EXECUTED_GTID_SET('3e11fa47-71ca-11e1-9e33-c80aa9429562:tag_1:1-5', 0.002)" {
		t.Errorf("tagged GTID, timeout rounded up: %q, %v", got.SQL(), err)
	}
	if got, err := WaitApplied(mariadb1011, "", time.Hour); err != nil || got.SQL() != "SELECT MASTER_GTID_WAIT('', 3600)" {
		t.Errorf("empty position: %q, %v", got.SQL(), err)
	}
	if got, err := SemiSyncPrimary(mysql84, SemiSync{Names: SemiSyncSource, Timeout: time.Millisecond, Acks: 2}); err != nil ||
		got[3].SQL() != "SET GLOBAL rpl_semi_sync_source_wait_for_replica_count=2" {
		t.Errorf("two acks on MySQL: %v, %v", sqls(got), err)
	}
}

// MySQL 8.0.26+ may run the old plugin: the caller's naming wins.
func TestSemiSyncNames(t *testing.T) {
	got, err := SemiSyncPrimary(mysql8026, SemiSync{Names: SemiSyncMaster, Timeout: time.Second, Acks: 1})
	want := []string{
		"SET GLOBAL rpl_semi_sync_master_wait_point=AFTER_SYNC",
		"SET GLOBAL rpl_semi_sync_master_wait_no_slave=ON",
		"SET GLOBAL rpl_semi_sync_master_timeout=1000",
		"SET GLOBAL rpl_semi_sync_master_wait_for_slave_count=1",
		"SET GLOBAL rpl_semi_sync_master_enabled=ON",
	}
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, sqls(got)); diff != "" {
		t.Errorf("old plugin on 8.0.26 (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		vars []string
		want SemiSyncNames
	}{
		{[]string{"rpl_semi_sync_master_enabled", "rpl_semi_sync_slave_enabled"}, SemiSyncMaster},
		{[]string{"rpl_semi_sync_replica_enabled", "rpl_semi_sync_source_enabled"}, SemiSyncSource},
		{[]string{"RPL_SEMI_SYNC_SOURCE_TIMEOUT"}, SemiSyncSource},
		{[]string{"rpl_semi_sync_slave_enabled"}, SemiSyncNamesUnknown}, // replica side only: the primary side is not installed
		{nil, SemiSyncNamesUnknown},
	} {
		if got := SemiSyncNamesOf(tt.vars); got != tt.want {
			t.Errorf("SemiSyncNamesOf(%v) = %v; want %v", tt.vars, got, tt.want)
		}
	}
}

func TestReadWait(t *testing.T) {
	tests := []struct {
		f     Flavor
		v     int64
		null  bool
		want  WaitResult
		error bool
	}{
		{mariadb1011, 0, false, WaitReached, false},
		{mariadb1011, -1, false, WaitTimedOut, false},
		{mariadb1011, 1, false, WaitUnknown, true},
		{mariadb1011, 0, true, WaitUnknown, true},
		{mysql84, 0, false, WaitReached, false},
		{mysql84, 1, false, WaitTimedOut, false},
		{mysql84, -1, false, WaitUnknown, true},
		{mysql84, 2, false, WaitUnknown, true},
	}
	for _, tt := range tests {
		got, err := ReadWait(tt.f, tt.v, tt.null)
		if got != tt.want || (err != nil) != tt.error {
			t.Errorf("ReadWait(%v, %d, null %v) = %v, %v; want %v, error %v", tt.f, tt.v, tt.null, got, err, tt.want, tt.error)
		}
	}
}

// The replication password is sent, never shown: not in String, Script,
// slog or JSON.
func TestPasswordRedacted(t *testing.T) {
	s := source()
	s.Password = "hunter2-secret"
	got, err := Repoint(mysql84, s)
	if err != nil {
		t.Fatal(err)
	}
	change := got[1]
	if !change.Secret() || !strings.Contains(change.SQL(), "'hunter2-secret'") {
		t.Fatalf("SQL() = %q; want the password in it", change.SQL())
	}
	if want := "SOURCE_PASSWORD='<redacted>'"; !strings.Contains(change.String(), want) {
		t.Errorf("String() = %q; want %q", change.String(), want)
	}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("step", "stmt", change)
	js, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	for where, text := range map[string]string{"String": change.String(), "Script": Script(got), "slog": logged.String(), "JSON": string(js)} {
		if strings.Contains(text, "hunter2") {
			t.Errorf("%s shows the password: %s", where, text)
		}
	}
	if got[0].Secret() || got[0].String() != got[0].SQL() {
		t.Errorf("a statement without secrets: %q vs %q", got[0].String(), got[0].SQL())
	}
}
