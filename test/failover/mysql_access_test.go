package failover

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/sentinel"
	"github.com/imsentinel/imsentinel/test/harness"
)

// An account that lacks only RELOAD: on MariaDB 10.11 RESET SLAVE ALL
// fails without it (measured; docs/grants.md).
const (
	partialUser     = "partial"
	partialPassword = "partialpass-4711"
	rotatedPassword = "rotated-0815"
)

// Bad credentials and missing grants (issue 6 point 6; docs/grants.md):
// one sentinel, quorum 1, mode auto, over a real MariaDB primary and
// replica. Its admin account lacks RELOAD everywhere, and the primary's
// password was rotated behind the sentinel's back (on the primary only,
// sql_log_bin=0). The daemon starts, logs the documented ERROR lines
// naming the instance and the user (never the password), raises
// CredentialsRefused on the primary and GrantsMissing (RELOAD) on the
// replica, visible at GET /v1/clusters and in imctl cluster show; and the
// primary, which refuses the login but is alive, is never SDOWN: a
// rotated password must not fail over a healthy primary. Once the
// password is put back, CredentialsRefused clears and the primary shows
// its own GrantsMissing.
func TestMySQLBadCredentialsAndMissingGrants(t *testing.T) {
	harness.Require(t, "redis-server", "mariadbd")
	routing := harness.StartRedis(t, harness.RedisOptions{})
	top := harness.StartMariaDBTopology(t, 1, harness.MariaDBOptions{})
	primary, replica := top.Primary, top.Replicas[0]
	primary.Exec(t, fmt.Sprintf("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'", partialUser, partialPassword))
	primary.Exec(t, fmt.Sprintf("GRANT SLAVE MONITOR, REPLICATION MASTER ADMIN, REPLICATION SLAVE ADMIN, READ_ONLY ADMIN, "+
		"PROCESS, CONNECTION ADMIN ON *.* TO '%s'@'127.0.0.1'", partialUser))
	replica.WaitGTID(t, primary.QueryString(t, "SELECT @@gtid_binlog_pos"))
	setPrimaryPassword := func(pw string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := primary.DB(t).Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, q := range []string{"SET SESSION sql_log_bin=0",
			fmt.Sprintf("ALTER USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'", partialUser, pw)} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Fatalf("on the primary: %s: %v", q, err)
			}
		}
	}
	setPrimaryPassword(rotatedPassword)

	admin, gossip := harness.FreePort(t), harness.FreePort(t)
	s := harness.StartSentinel(t, harness.SentinelOptions{Config: fmt.Sprintf(`
sentinel: {id: s1, data_dir: %s}
fleet: {name: e2e, members: [{id: s1, address: "127.0.0.1:%d"}]}
gossip: {bind: "127.0.0.1:%d", profile: local}
admin: {listen: "127.0.0.1:%d"}
routing: {address: %q}
detection: {probe_interval: 200ms, probe_timeout: 150ms, min_down_after: 1s, down_after: 2s, opinion_ttl: 3s}
failover: {lease: 5s, lease_drift_margin: 500ms, election_timeout: 1s, cooldown: 30s}
clusters:
  - name: msg
    kind: mysql
    mode: auto
    primary: %q
    replicas: [%q]
    quorum: 1
    credentials:
      username: %s
      password: %s
      replication: {username: %s, password: %s}
`, t.TempDir(), gossip, gossip, admin, routing.Addr, primary.Addr, replica.Addr,
		partialUser, partialPassword, harness.MariaDBReplUser, harness.MariaDBReplPassword)})

	// view reads the cluster and fails the test if the primary is SDOWN in
	// it: checked on every read, not only at the end.
	view := func() sentinel.ClusterView {
		t.Helper()
		var v sentinel.ClusterView
		if err := harness.AdminGet(admin, "/v1/clusters/msg", &v); err != nil {
			return v
		}
		for _, in := range v.Instances {
			if in.Address == primary.Addr && in.SDOWN {
				t.Fatalf("the primary, alive but refusing the login, is SDOWN: %s\n%s", in.Detector.Reason, s.Logs())
			}
		}
		return v
	}
	condition := func(v sentinel.ClusterView, name, instance string) (sentinel.Condition, bool) {
		for _, c := range v.Conditions {
			if c.Name == name && c.Instance == instance {
				return c, true
			}
		}
		return sentinel.Condition{}, false
	}
	waitFor := func(what string, ok func(v sentinel.ClusterView) bool) sentinel.ClusterView {
		t.Helper()
		end := time.Now().Add(deadline)
		for {
			v := view()
			if ok(v) {
				return v
			}
			if time.Now().After(end) {
				t.Fatalf("%s: not within %v; conditions %+v\n%s", what, deadline, v.Conditions, s.Logs())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	v := waitFor("CredentialsRefused on the primary and GrantsMissing on the replica", func(v sentinel.ClusterView) bool {
		_, refused := condition(v, sentinel.CondCredentialsRefused, primary.Addr)
		_, missing := condition(v, sentinel.CondGrantsMissing, replica.Addr)
		return refused && missing
	})
	refused, _ := condition(v, sentinel.CondCredentialsRefused, primary.Addr)
	missing, _ := condition(v, sentinel.CondGrantsMissing, replica.Addr)
	if refused.Severity != sentinel.SeverityCritical || !strings.Contains(refused.Detail, "'"+partialUser+"'") ||
		!strings.Contains(refused.Detail, "Access denied") {
		t.Errorf("CredentialsRefused: %+v, want critical naming the user and the server's refusal", refused)
	}
	if missing.Severity != sentinel.SeverityCritical || !strings.Contains(missing.Detail, "lacks RELOAD") {
		t.Errorf("GrantsMissing: %+v, want critical naming RELOAD", missing)
	}
	if _, ok := condition(v, sentinel.CondCredentialsRefused, replica.Addr); ok {
		t.Errorf("the replica, which accepts the login, has CredentialsRefused: %+v", v.Conditions)
	}

	// The documented ERROR lines (docs/grants.md).
	logs := waitLog(t, s, []string{
		`level=ERROR msg="mysql login refused" sentinel=s1 cluster=msg kind=mysql instance=` + primary.Addr +
			` user=` + partialUser + ` purpose=admin condition=CredentialsRefused err="Error 1045 (28000): Access denied for user`,
		`level=ERROR msg="mysql grants missing" sentinel=s1 cluster=msg kind=mysql instance=` + replica.Addr +
			` user=` + partialUser + ` purpose=admin condition=GrantsMissing missing=RELOAD`,
	})
	for _, pw := range []string{partialPassword, rotatedPassword, harness.MariaDBReplPassword} {
		if strings.Contains(logs, pw) {
			t.Errorf("a password (%q) is in the daemon's log", pw)
		}
	}

	out, errOut, code := runImctl(t, admin, "cluster", "show", "msg")
	if code != 0 || !strings.Contains(out, "CredentialsRefused") || !strings.Contains(out, "CRITICAL") ||
		!strings.Contains(out, "GrantsMissing") {
		t.Errorf("imctl cluster show msg: exit %d, want both conditions, CRITICAL:\n%s%s", code, out, errOut)
	}

	// Well past down_after: still not SDOWN (view checks every read), and
	// no lease was taken for a failover.
	hold := time.Now().Add(3 * time.Second)
	for time.Now().Before(hold) {
		v := view()
		if v.State != "" && v.State != "ok" && v.State != "learning" {
			t.Fatalf("cluster state %q with a healthy primary that refuses the login", v.State)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.Contains(s.Logs(), "subjectively down") {
		t.Errorf("an instance went SDOWN:\n%s", s.Logs())
	}

	// The password is put back: the refusal clears, and the primary, now
	// read, shows that it lacks RELOAD too.
	setPrimaryPassword(partialPassword)
	waitFor("CredentialsRefused cleared, GrantsMissing on the primary", func(v sentinel.ClusterView) bool {
		_, refused := condition(v, sentinel.CondCredentialsRefused, primary.Addr)
		c, missing := condition(v, sentinel.CondGrantsMissing, primary.Addr)
		return !refused && missing && strings.Contains(c.Detail, "lacks RELOAD")
	})
}

// waitLog waits until the daemon's log holds every line fragment and
// returns the log.
func waitLog(t *testing.T, s *harness.Sentinel, want []string) string {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		logs := s.Logs()
		var lacking []string
		for _, w := range want {
			if !strings.Contains(logs, w) {
				lacking = append(lacking, w)
			}
		}
		if len(lacking) == 0 {
			return logs
		}
		if time.Now().After(end) {
			t.Fatalf("the daemon's log lacks:\n%s\nlog:\n%s", strings.Join(lacking, "\n"), logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runImctl runs the real imctl against one sentinel.
func runImctl(t *testing.T, admin int, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(harness.ImctlBinary(t), args...)
	cmd.Env = append(cmd.Environ(), fmt.Sprintf("IMCTL_SENTINEL=127.0.0.1:%d", admin))
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run imctl %v: %v", args, err)
	}
	return out.String(), errb.String(), 0
}
