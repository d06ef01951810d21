package harness_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

func TestRedisTopology(t *testing.T) {
	tp := harness.StartRedisTopology(t, 2, harness.RedisOptions{Password: "pw"})
	ctx := context.Background()
	pc := tp.Primary.Client(t)
	if err := pc.Set(ctx, "k", "v1", 0).Err(); err != nil {
		t.Fatalf("SET on primary %s: %v", tp.Primary.Addr, err)
	}
	for _, r := range tp.Replicas {
		c := r.Client(t)
		harness.Eventually(t, harness.ReplicationTimeout, "read k on replica "+r.Addr, func() error {
			got, err := c.Get(ctx, "k").Result()
			if err != nil {
				return err
			}
			if got != "v1" {
				return fmt.Errorf("got %q, want %q", got, "v1")
			}
			return nil
		})
	}

	// Kill a replica: its PID is reaped at once; Restart brings it back on the
	// same port, it resyncs and sees the value again.
	r := tp.Replicas[0]
	oldPID := r.PID()
	r.Kill(t)
	if !r.Exited() {
		t.Fatalf("replica %s: Exited() = false after Kill", r.Addr)
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	err := r.Client(t).Ping(short).Err()
	cancel()
	if err == nil {
		t.Fatalf("replica %s answers PING after Kill", r.Addr)
	}
	r.Restart(t)
	if r.PID() == oldPID || r.Exited() {
		t.Fatalf("after Restart: pid %d (was %d), exited %v", r.PID(), oldPID, r.Exited())
	}
	r.WaitReplicating(t, tp.Primary)
	if got, err := r.Client(t).Get(ctx, "k").Result(); err != nil || got != "v1" {
		t.Fatalf("GET k on restarted replica: %q, %v; want v1", got, err)
	}

	// Pause the primary: PING times out; Resume: it answers again.
	tp.Primary.Pause(t)
	if tp.Primary.Exited() {
		t.Fatalf("paused primary counted as exited")
	}
	short, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
	err = pc.Ping(short).Err()
	cancel()
	if err == nil {
		t.Fatalf("paused primary answered PING")
	}
	tp.Primary.Resume(t)
	if err := pc.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after Resume: %v", err)
	}

	// Stop (SIGTERM) is graceful and exits.
	tp.Replicas[1].Stop(t)
	select {
	case <-tp.Replicas[1].Done():
	default:
		t.Fatalf("Done() not closed after Stop")
	}
}

func TestFreePortUnique(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		p := harness.FreePort(t)
		if seen[p] {
			t.Fatalf("FreePort handed out %d twice", p)
		}
		seen[p] = true
	}
}

func TestRequireDecision(t *testing.T) {
	look := func(name string) (string, error) {
		if name == "present" {
			return "/usr/bin/present", nil
		}
		return "", errors.New("not found")
	}
	for _, tc := range []struct {
		ci       string
		bins     []string
		wantFail bool
		wantMsg  bool
	}{
		{"", []string{"present"}, false, false},
		{"true", []string{"present"}, false, false},
		{"", []string{"present", "mariadbd"}, false, true},
		{"false", []string{"mariadbd"}, false, true},
		{"true", []string{"mariadbd"}, true, true},
		{"1", []string{"redis-server"}, true, true},
	} {
		fail, msg := harness.RequireDecision(tc.ci, look, tc.bins)
		if fail != tc.wantFail || (msg != "") != tc.wantMsg {
			t.Errorf("CI=%q bins=%v: fail=%v msg=%q; want fail=%v msg present=%v", tc.ci, tc.bins, fail, msg, tc.wantFail, tc.wantMsg)
		}
		if tc.wantMsg && !containsAll(msg, "scripts/install-deps.sh", "apt-get install") {
			t.Errorf("CI=%q bins=%v: msg %q does not name the install command", tc.ci, tc.bins, msg)
		}
	}
	_, msg := harness.RequireDecision("", look, []string{"mariadbd", "mariadb-install-db"})
	if !containsAll(msg, "mariadb-server") || countOf(msg, "mariadb-server") != 1 {
		t.Errorf("msg %q: want package mariadb-server named once", msg)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func countOf(s, sub string) int { return strings.Count(s, sub) }

func TestMariaDBTopology(t *testing.T) {
	start := time.Now()
	tp := harness.StartMariaDBTopology(t, 2, harness.MariaDBOptions{})
	t.Logf("topology up in %v", time.Since(start))
	p := tp.Primary
	if got := p.Status(t, "Rpl_semi_sync_master_status"); got != "ON" {
		t.Fatalf("primary Rpl_semi_sync_master_status = %q, want ON", got)
	}
	if got := p.Status(t, "Rpl_semi_sync_master_clients"); got != "2" {
		t.Fatalf("primary Rpl_semi_sync_master_clients = %q, want 2", got)
	}
	if got := p.Variable(t, "read_only"); got != "0" {
		t.Fatalf("primary read_only = %q, want 0", got)
	}
	yes := p.Status(t, "Rpl_semi_sync_master_yes_tx")

	pdb := p.DB(t)
	if _, err := pdb.Exec("CREATE TABLE harness.t (id INT PRIMARY KEY, v VARCHAR(16))"); err != nil {
		t.Fatalf("create table on primary: %v", err)
	}
	if _, err := pdb.Exec("INSERT INTO harness.t VALUES (1, 'one')"); err != nil {
		t.Fatalf("insert on primary: %v", err)
	}
	if got := p.Status(t, "Rpl_semi_sync_master_yes_tx"); got == yes {
		t.Fatalf("Rpl_semi_sync_master_yes_tx stayed %s after a semi-sync commit", got)
	}
	for _, r := range tp.Replicas {
		if got := r.Variable(t, "read_only"); got != "1" {
			t.Errorf("replica %s read_only = %q, want 1", r.Addr, got)
		}
		seeRow(t, r, 1, "one")
	}

	// Kill a replica: the primary loses a semi-sync client; after Restart
	// (skip_slave_start) and START SLAVE it reconnects and catches up.
	r := tp.Replicas[0]
	r.Kill(t)
	if !r.Exited() {
		t.Fatalf("replica %s: Exited() = false after Kill", r.Addr)
	}
	p.WaitSemiSyncClients(t, 1)
	if _, err := pdb.Exec("INSERT INTO harness.t VALUES (2, 'two')"); err != nil {
		t.Fatalf("insert on primary with one replica down: %v", err)
	}
	r.Restart(t)
	if st := r.ReplicaStatus(t); st["Slave_IO_Running"] != "No" {
		t.Fatalf("restarted replica runs replication before START SLAVE (skip_slave_start): Slave_IO_Running=%q", st["Slave_IO_Running"])
	}
	r.StartReplication(t)
	p.WaitSemiSyncClients(t, 2)
	seeRow(t, r, 2, "two")
	if st := r.ReplicaStatus(t); st["Master_Port"] != fmt.Sprint(p.Port) || st["Using_Gtid"] != "Slave_Pos" {
		t.Fatalf("restarted replica: Master_Port=%q Using_Gtid=%q; want %d, Slave_Pos", st["Master_Port"], st["Using_Gtid"], p.Port)
	}

	// SHOW SLAVE HOSTS on the primary lists both replicas (report_host/port).
	n := p.QueryString(t, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")
	if n != "2" {
		t.Fatalf("primary has %s binlog dump threads, want 2", n)
	}
	rows, err := pdb.Query("SHOW SLAVE HOSTS")
	if err != nil {
		t.Fatalf("SHOW SLAVE HOSTS: %v", err)
	}
	defer rows.Close()
	hosts := 0
	for rows.Next() {
		hosts++
	}
	if hosts != 2 {
		t.Fatalf("SHOW SLAVE HOSTS lists %d replicas, want 2", hosts)
	}
}

func seeRow(t *testing.T, m *harness.MariaDB, id int, want string) {
	t.Helper()
	db := m.DB(t)
	harness.Eventually(t, harness.ReplicationTimeout, fmt.Sprintf("row %d on %s", id, m.Addr), func() error {
		var got string
		if err := db.QueryRow("SELECT v FROM harness.t WHERE id = ?", id).Scan(&got); err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("got %q, want %q", got, want)
		}
		return nil
	})
}

// fakeSentinel builds testdata/fakesentinel: StartSentinel is tested without
// depending on cmd/imsentinel being buildable.
func fakeSentinel(t *testing.T) string {
	return harness.BuildBinary(t, "./test/harness/testdata/fakesentinel")
}

func TestSentinelLifecycle(t *testing.T) {
	bin := fakeSentinel(t)
	s := harness.StartSentinel(t, harness.SentinelOptions{
		Config: "cluster: x\n", Args: []string{"--node", "n1"}, Env: []string{"FAKE_X=1"}, Binary: bin,
	})
	harness.Eventually(t, 30*time.Second, "sentinel log shows start", func() error {
		if !strings.Contains(s.Logs(), "fakesentinel started") {
			return fmt.Errorf("log: %q", s.Logs())
		}
		return nil
	})
	wantArgs := fmt.Sprintf(`args=["--config" %q "--node" "n1"] cwd=%s`, s.ConfigPath, s.Dir)
	if !strings.Contains(s.Logs(), wantArgs) {
		t.Fatalf("log %q does not contain %q", s.Logs(), wantArgs)
	}
	if s.ExitCode() != -1 || s.Exited() {
		t.Fatalf("running sentinel: ExitCode=%d Exited=%v", s.ExitCode(), s.Exited())
	}
	s.Pause(t)
	s.Resume(t)
	pid := s.PID()
	s.Kill(t)
	if !s.Exited() || s.ExitCode() != -1 {
		t.Fatalf("after Kill: Exited=%v ExitCode=%d; want true, -1", s.Exited(), s.ExitCode())
	}
	s.Restart(t)
	if s.PID() == pid || s.Exited() {
		t.Fatalf("after Restart: pid %d (was %d) exited=%v", s.PID(), pid, s.Exited())
	}
	harness.Eventually(t, 30*time.Second, "restarted sentinel logs its start", func() error {
		if n := strings.Count(s.Logs(), "fakesentinel started"); n != 2 {
			return fmt.Errorf("%d starts in log", n)
		}
		return nil
	})
	s.Stop(t)
	if s.ExitCode() != 0 {
		t.Fatalf("after Stop: ExitCode=%d, want 0; log:\n%s", s.ExitCode(), s.Logs())
	}
}

func TestSentinelExitsOnItsOwn(t *testing.T) {
	s := harness.StartSentinel(t, harness.SentinelOptions{Binary: fakeSentinel(t), Env: []string{"FAKE_EXIT=3"}})
	if code := s.WaitExit(t, 30*time.Second); code != 3 {
		t.Fatalf("exit code %d, want 3", code)
	}
	select {
	case <-s.Done():
	default:
		t.Fatalf("Done() not closed after exit")
	}
}

func TestImsentinelBinaryFromEnv(t *testing.T) {
	t.Setenv("IMSENTINEL_BIN", "/opt/imsentinel")
	if got := harness.ImsentinelBinary(t); got != "/opt/imsentinel" {
		t.Fatalf("ImsentinelBinary with IMSENTINEL_BIN set = %q", got)
	}
}

func TestBuildBinaryOnce(t *testing.T) {
	a, b := fakeSentinel(t), fakeSentinel(t)
	if a != b {
		t.Fatalf("BuildBinary twice: %q then %q, want one build", a, b)
	}
	if fi, err := os.Stat(a); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("built %s: %v", a, err)
	}
}

// TestPanicLeavesNoChild runs a test binary whose test starts redis-server
// and panics, and checks that the server is gone afterwards.
func TestPanicLeavesNoChild(t *testing.T) {
	if os.Getenv("HARNESS_PANIC_CHILD") == "1" {
		r := harness.StartRedis(t, harness.RedisOptions{})
		fmt.Printf("REDIS_PID=%d\n", r.PID())
		panic("deliberate panic with a child running")
	}
	harness.Require(t, "redis-server")
	cmd := exec.Command(os.Args[0], "-test.run=^TestPanicLeavesNoChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "HARNESS_PANIC_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("child test binary did not fail; output:\n%s", out)
	}
	var pid int
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "REDIS_PID="); ok {
			pid, _ = strconv.Atoi(v)
		}
	}
	if pid == 0 {
		t.Fatalf("no REDIS_PID in child output:\n%s", out)
	}
	harness.Eventually(t, 30*time.Second, fmt.Sprintf("redis pid %d gone", pid), func() error {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return nil // gone
		}
		if f := strings.Fields(string(b)); len(f) > 2 && f[2] == "Z" {
			return nil // dead; waiting for its new parent to reap it
		}
		return fmt.Errorf("still alive: %s", b)
	})
}
