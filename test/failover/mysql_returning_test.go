package failover

import (
	"database/sql"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/sentinel"
	"github.com/imsentinel/imsentinel/test/harness"
)

// DESIGN.md §6.6: an old primary that took a write while it was cut off
// returns as nodes should start (read-only, --init-rpl-role=SLAVE): it
// stays read-only and unreplicated, ErrantReturningPrimary names the
// errant GTIDs (imctl cluster show too), and imctl instance rejoin refuses
// it, naming them with mariadb-binlog arguments that read the errant row
// back out of its binary log. Then fence and unfence behave as documented
// (unfence refused on a non-primary; fencing the primary only with
// --force), and rejoin of a replica that already follows the primary is
// a no-op.
func TestMySQLErrantReturningPrimaryIsKeptOutAndRejoinRefused(t *testing.T) {
	e := startMySQL(t)
	defer e.dumpLogs()
	old := e.top.Primary
	seedEpoch := e.waitRoute("the steward routes the seed primary", old.Addr, 0)
	old.Exec(t, "CREATE TABLE harness.r (id INT PRIMARY KEY)")
	old.Exec(t, "INSERT INTO harness.r VALUES (1)")
	old.Kill(t)
	np, other, _ := e.waitPromoted(seedEpoch)

	// Cut off from everyone (no networking), the old primary takes a write.
	var errantSeq string
	old.RunAlone(t, func(db *sql.DB) {
		if _, err := db.Exec("INSERT INTO harness.r VALUES (100)"); err != nil {
			t.Fatalf("the isolated write on %s: %v", old.Addr, err)
		}
		var pos string
		if err := db.QueryRow("SELECT @@GLOBAL.gtid_binlog_pos").Scan(&pos); err != nil {
			t.Fatalf("read gtid_binlog_pos on %s: %v", old.Addr, err)
		}
		// One domain: "0-1-K", K the isolated write's seq.
		if p := strings.Split(pos, "-"); len(p) == 3 && p[1] == fmt.Sprint(old.ServerID) {
			errantSeq = p[2]
		} else {
			t.Fatalf("gtid_binlog_pos %q on %s after the isolated write: want 0-%d-N", pos, old.Addr, old.ServerID)
		}
	})
	// Named like "domain 0 seqs 5-7 (last from server 1)" or "seq 7 (...)".
	errantText := fmt.Sprintf("%s (last from server %d)", errantSeq, old.ServerID)

	old.RestartWith(t, "--init-rpl-role=SLAVE") // read_only=ON from its my.cnf
	harness.Eventually(t, deadline, "ErrantReturningPrimary names the isolated write's GTID on every sentinel", func() error {
		for _, m := range e.members {
			v, err := e.view(m)
			if err != nil {
				return err
			}
			if c, ok := condition(v, sentinel.CondErrantReturningPrimary, old.Addr); !ok || !strings.Contains(c.Detail, errantText) {
				return fmt.Errorf("%s: conditions %v, want %s on %s naming %q", m.id, v.Conditions,
					sentinel.CondErrantReturningPrimary, old.Addr, errantText)
			}
		}
		return nil
	})
	out, errOut, code := e.imctl("", "cluster", "show", "msg")
	if code != 0 || !strings.Contains(out, sentinel.CondErrantReturningPrimary) || !strings.Contains(out, errantText) {
		t.Errorf("imctl cluster show msg: exit %d, want 0 and the condition naming %q:\n%s%s", code, errantText, out, errOut)
	}

	// Rejoin is refused, with the GTIDs named and ready for mariadb-binlog.
	out, errOut, code = e.imctl("", "instance", "rejoin", "msg", old.Addr, "--yes")
	stop := fmt.Sprintf("--stop-position=0-%d-%s", old.ServerID, errantSeq)
	if code != 1 || !strings.Contains(errOut, "transactions the primary") || !strings.Contains(errOut, errantText) ||
		!strings.Contains(errOut, stop) {
		t.Fatalf("imctl instance rejoin of the errant %s: exit %d, want 1 naming %q and %q:\n%s%s", old.Addr, code, errantText, stop, out, errOut)
	}
	readErrantBinlog(t, old, binlogArgs(errOut, stop))

	// Unfence of a non-primary is refused; fence of it is done.
	if out, errOut, code = e.imctl("", "instance", "unfence", "msg", old.Addr, "--yes"); code != 1 || !strings.Contains(errOut, "WritableNonPrimary") {
		t.Errorf("imctl instance unfence of %s (not the primary): exit %d, want 1 and a refusal naming WritableNonPrimary:\n%s%s", old.Addr, code, out, errOut)
	}
	if out, errOut, code = e.imctl("", "instance", "fence", "msg", old.Addr, "--yes"); code != 0 || !strings.Contains(out, "fenced") {
		t.Errorf("imctl instance fence of %s: exit %d, want 0 and fenced:\n%s%s", old.Addr, code, out, errOut)
	}

	// Fencing the primary needs --force; then it takes no writes until
	// unfenced.
	if out, errOut, code = e.imctl("", "instance", "fence", "msg", np.Addr, "--yes"); code != 1 || !strings.Contains(errOut, "stops every write") {
		t.Errorf("imctl instance fence of the primary %s without --force: exit %d, want 1 saying it stops every write:\n%s%s", np.Addr, code, out, errOut)
	}
	if ro := np.Variable(t, "read_only"); ro != "0" {
		t.Fatalf("the primary %s after a refused fence: read_only %s, want 0", np.Addr, ro)
	}
	if out, errOut, code = e.imctl("", "instance", "fence", "msg", np.Addr, "--force", "--yes"); code != 0 || !strings.Contains(out, "WARNING") {
		t.Errorf("imctl instance fence --force of the primary %s: exit %d, want 0 and a WARNING:\n%s%s", np.Addr, code, out, errOut)
	}
	if ro := np.Variable(t, "read_only"); ro != "1" {
		t.Errorf("the primary %s after fence --force: read_only %s, want 1", np.Addr, ro)
	}
	if out, errOut, code = e.imctl("", "instance", "unfence", "msg", np.Addr, "--yes"); code != 0 || !strings.Contains(out, "unfenced") {
		t.Errorf("imctl instance unfence of the primary %s: exit %d, want 0:\n%s%s", np.Addr, code, out, errOut)
	}
	if ro := np.Variable(t, "read_only"); ro != "0" {
		t.Errorf("the primary %s after unfence: read_only %s, want 0", np.Addr, ro)
	}

	// The other replica already follows the new primary: nothing to do.
	harness.Eventually(t, deadline, "the other replica replicates from the new primary", func() error {
		st := other.ReplicaStatus(t)
		if st["Master_Port"] != fmt.Sprint(np.Port) || st["Slave_IO_Running"] != "Yes" || st["Slave_SQL_Running"] != "Yes" {
			return fmt.Errorf("%s: master port %q, IO %q, SQL %q", other.Addr, st["Master_Port"], st["Slave_IO_Running"], st["Slave_SQL_Running"])
		}
		return nil
	})
	if out, errOut, code = e.imctl("", "instance", "rejoin", "msg", other.Addr, "--yes"); code != 0 || !strings.Contains(out, "nothing to do") {
		t.Errorf("imctl instance rejoin of %s, which replicates from the primary: exit %d, want 0 and nothing to do:\n%s%s", other.Addr, code, out, errOut)
	}

	// After all that, the errant node is still read-only and replicates
	// from no one: nothing rejoined it behind the operator's back.
	if ro := old.Variable(t, "read_only"); ro != "1" {
		t.Errorf("the errant %s: read_only %s, want 1", old.Addr, ro)
	}
	if st := old.ReplicaStatus(t); len(st) != 0 {
		t.Errorf("the errant %s replicates (%s:%s, IO %s): it must stay out", old.Addr, st["Master_Host"], st["Master_Port"], st["Slave_IO_Running"])
	}
	if n := old.QueryString(t, "SELECT COUNT(*) FROM harness.r WHERE id = 100"); n != "1" {
		t.Errorf("the errant %s lost its isolated row (count %s): nothing may discard it but a person", old.Addr, n)
	}
}

// condition finds a condition by name and instance.
func condition(v sentinel.ClusterView, name, instance string) (sentinel.Condition, bool) {
	for _, c := range v.Conditions {
		if c.Name == name && c.Instance == instance {
			return c, true
		}
	}
	return sentinel.Condition{}, false
}

// binlogArgs picks the mariadb-binlog arguments from a refusal: the
// "--start-position=… --stop-position=…" (or only the stop) ending in stop.
func binlogArgs(msg, stop string) []string {
	i := strings.Index(msg, stop)
	head := msg[:i]
	if j := strings.LastIndex(head, "--start-position="); j >= 0 && !strings.Contains(head[j:], ";") {
		return append(strings.Fields(head[j:]), stop)
	}
	return []string{stop}
}

// readErrantBinlog runs mariadb-binlog with args over node's binary logs
// and checks it prints the isolated write (id 100) and not the rows the
// cluster has (id 1): the refusal's arguments select the errant
// transactions, ready for a flashback or a review.
func readErrantBinlog(t *testing.T, node *harness.MariaDB, args []string) {
	t.Helper()
	harness.Require(t, "mariadb-binlog")
	logs, err := filepath.Glob(filepath.Join(node.DataDir, "mariadb-bin.[0-9]*"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("binary logs of %s: %v (found %d)", node.Addr, err, len(logs))
	}
	sort.Strings(logs)
	cmd := exec.Command("mariadb-binlog", append(append([]string{"--no-defaults", "-v", "--base64-output=decode-rows"}, args...), logs...)...)
	done := make(chan struct{})
	var out []byte
	go func() {
		defer close(done)
		out, err = cmd.CombinedOutput()
	}()
	select {
	case <-done:
	case <-time.After(deadline):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("mariadb-binlog %v did not finish within %v", args, deadline)
	}
	text := string(out)
	if err != nil || !strings.Contains(text, "INSERT INTO `harness`.`r`") || !strings.Contains(text, "@1=100") || strings.Contains(text, "@1=1\n") {
		t.Errorf("mariadb-binlog %v over %s's binary logs: err %v; want the isolated row @1=100 and not @1=1:\n%s", args, node.Addr, err, text)
	}
}
