package failover

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/sentinel"
	"github.com/imsentinel/imsentinel/test/harness"
)

// forceMySQLFailover posts a forced failover to the first sentinel and
// returns its outcome.
func (e *mysqlEnv) forceMySQLFailover(to string) sentinel.FailoverOutcome {
	e.t.Helper()
	code, b := e.post(e.members[0], "/v1/clusters/msg/failover", "", sentinel.FailoverRequest{To: to}, "")
	if code != http.StatusOK {
		e.t.Fatalf("forced failover to %s: %d %s", to, code, b)
	}
	var out sentinel.FailoverOutcome
	if err := json.Unmarshal(b, &out); err != nil {
		e.t.Fatalf("forced failover outcome %s: %v", b, err)
	}
	return out
}

// waitAcked waits until the writer has n more rows acknowledged on addr
// than it had when called.
func (w *sqlWriter) waitMore(t *testing.T, what, addr string, n int) {
	t.Helper()
	base := w.ackedOn(addr)
	harness.Eventually(t, deadline, what, func() error {
		if got := w.ackedOn(addr) - base; got < n {
			return fmt.Errorf("%d more acknowledged on %s, want %d", got, addr, n)
		}
		return nil
	})
}

// A forced failover of a live semi-sync MariaDB primary through the admin
// API: the dry run names what it overrides (with --to), the chosen replica
// applies what it received and is promoted (zero loss, the outcome says), the route moves at a higher epoch, no
// acknowledged row is lost, the other replica follows the new primary, and
// the old primary stays read-only and is never routed to again.
func TestMySQLForcedFailoverOfALivePrimary(t *testing.T) {
	e := startMySQL(t)
	defer e.dumpLogs()
	old := e.top.Primary
	seedEpoch := e.waitRoute("the steward routes the seed primary", old.Addr, 0)
	w := startSQLWriter(t, e)
	w.waitMore(t, "rows acknowledged on the seed primary", old.Addr, 50)
	to, other := e.top.Replicas[0], e.top.Replicas[1]

	code, b := e.post(e.members[1], "/v1/clusters/msg/failover", "", sentinel.FailoverRequest{To: to.Addr, DryRun: true}, "")
	if code != http.StatusOK {
		t.Fatalf("dry run: %d %s", code, b)
	}
	var plan sentinel.FailoverPlan
	if err := json.Unmarshal(b, &plan); err != nil {
		t.Fatal(err)
	}
	overrides := strings.Join(plan.Overrides, "\n")
	if plan.Plan.NewPrimary != to.Addr || !strings.Contains(overrides, "in flight") || !strings.Contains(overrides, "ODOWN not reached") {
		t.Errorf("dry run: new primary %s, overrides %q; want %s, the semi-sync cost and ODOWN named", plan.Plan.NewPrimary, overrides, to.Addr)
	}
	if ro := to.QueryString(t, "SELECT @@read_only"); ro != "1" {
		t.Fatalf("a dry run changed %s: read_only=%s", to.Addr, ro)
	}

	// Without --to: the ranking chooses, and chooses again once the IO
	// threads stopped (a live primary may have sent one replica more by
	// then), so no acknowledged row can be lost whichever it is.
	out := e.forceMySQLFailover("")
	if !out.Committed || !out.Routed || out.OldPrimary != old.Addr {
		t.Fatalf("outcome %+v, want committed and routed away from %s", out, old.Addr)
	}
	if out.Loss == nil || !out.Loss.ZeroLoss {
		t.Errorf("outcome loss estimate %+v, want zero acknowledged writes lost (semi-sync as §6.2 wants, every replica reached)", out.Loss)
	}
	if out.NewPrimary == other.Addr {
		to, other = other, to
	}
	if out.NewPrimary != to.Addr {
		t.Fatalf("outcome %+v names no replica of the cluster", out)
	}
	e.waitRoute("the route names the promoted replica at a higher epoch", to.Addr, seedEpoch)
	if ro := to.QueryString(t, "SELECT @@read_only"); ro != "0" {
		t.Errorf("the new primary %s has read_only=%s", to.Addr, ro)
	}
	if ro := old.QueryString(t, "SELECT @@read_only"); ro != "1" {
		t.Errorf("the old primary %s has read_only=%s after a forced failover, want fenced", old.Addr, ro)
	}
	harness.Eventually(t, deadline, "the other replica replicates the new primary", func() error {
		st := other.ReplicaStatus(t)
		if st["Master_Port"] != fmt.Sprint(to.Port) || st["Slave_IO_Running"] != "Yes" || st["Slave_SQL_Running"] != "Yes" {
			return fmt.Errorf("%s: master port %s, IO %s, SQL %s (%s)", other.Addr, st["Master_Port"], st["Slave_IO_Running"],
				st["Slave_SQL_Running"], st["Last_IO_Error"])
		}
		return nil
	})
	w.waitMore(t, "rows acknowledged on the new primary", to.Addr, 50)
	w.halt()
	if lost := w.lost(t, to); len(lost) > 0 {
		t.Errorf("%d acknowledged rows lost, e.g. %v", len(lost), lost[:min(10, len(lost))])
	}
	if ro := old.QueryString(t, "SELECT @@read_only"); ro != "1" {
		t.Errorf("the old primary %s became writable again: read_only=%s", old.Addr, ro)
	}
	if n := e.logCount("failover: promoted"); n != 1 {
		t.Errorf("%d promotions in the sentinels' logs, want exactly 1", n)
	}
}

// A forced failover to a replica whose applier is stopped fails in the
// catch-up, and is undone: the replicas receive again and the old
// primary, which the failover fenced, accepts writes again, so the cluster
// stays writable where it was (DESIGN.md §6.1; docs/design.md §9.33). The
// route never moves, nothing is promoted, and no acknowledged row is lost.
func TestMySQLFailedFailoverIsUndoneAndThePrimaryWritableAgain(t *testing.T) {
	e := startMySQL(t)
	defer e.dumpLogs()
	old := e.top.Primary
	seedEpoch := e.waitRoute("the steward routes the seed primary", old.Addr, 0)
	w := startSQLWriter(t, e)
	w.waitMore(t, "rows acknowledged on the seed primary", old.Addr, 50)
	to := e.top.Replicas[1]
	to.Exec(t, "STOP SLAVE SQL_THREAD")
	w.waitMore(t, "rows the stopped applier received and did not apply", old.Addr, 50)
	// The writer stops first: with inserts in flight, the other replica
	// may receive one more before its IO thread stops than the chosen
	// one did, and the failover then stops on that instead (recheck),
	// before the catch-up this test is about.
	w.halt()

	out := e.forceMySQLFailover(to.Addr)
	if out.Committed || out.Routed || !strings.Contains(out.Why, "catch up") || !strings.Contains(out.Why, "undone") {
		t.Fatalf("outcome %+v, want a failed catch-up that was undone", out)
	}
	if ro := old.QueryString(t, "SELECT @@read_only"); ro != "0" {
		t.Errorf("the old primary %s has read_only=%s after the undo, want writable", old.Addr, ro)
	}
	for _, r := range e.top.Replicas {
		// START SLAVE IO_THREAD returns at once: "Preparing", then "Yes".
		harness.Eventually(t, deadline, r.Addr+" receives from the old primary again", func() error {
			if st := r.ReplicaStatus(t); st["Slave_IO_Running"] != "Yes" || st["Master_Port"] != fmt.Sprint(old.Port) {
				return fmt.Errorf("IO %s, master port %s", st["Slave_IO_Running"], st["Master_Port"])
			}
			return nil
		})
	}
	if st := to.ReplicaStatus(t); st["Slave_SQL_Running"] != "No" {
		t.Errorf("the undo started the applier an operator stopped on %s: SQL %s", to.Addr, st["Slave_SQL_Running"])
	}
	app, err := sql.Open("mysql", old.DSN(harness.MariaDBAppUser, harness.MariaDBAppPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	harness.Eventually(t, deadline, "the old primary acknowledges an application's insert after the undo", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := app.ExecContext(ctx, "INSERT INTO harness.w VALUES (?)", 1_000_000_000+time.Now().UnixNano()%1_000_000)
		return err
	})
	h, err := e.route()
	if err != nil || h["primary"] != old.Addr || h["epoch"] != fmt.Sprint(seedEpoch) {
		t.Errorf("route %v (%v), want %s at epoch %d: an undone failover moves nothing", h, err, old.Addr, seedEpoch)
	}
	to.Exec(t, "START SLAVE SQL_THREAD")
	if lost := w.lost(t, old); len(lost) > 0 {
		t.Errorf("%d acknowledged rows lost, e.g. %v", len(lost), lost[:min(10, len(lost))])
	}
	if n := e.logCount("failover: promoted"); n != 0 {
		t.Errorf("%d promotions in the sentinels' logs, want none", n)
	}
}

// failoverLoss returns the loss estimate of the newest committed failover
// in the journals of the sentinels (DESIGN.md §6.8), waiting for one.
func (e *mysqlEnv) failoverLoss() map[string]any {
	e.t.Helper()
	var loss map[string]any
	harness.Eventually(e.t, deadline, "a committed failover with its loss estimate in a journal", func() error {
		for _, m := range e.members {
			var ev struct {
				Events []struct {
					Type   string          `json:"type"`
					Detail json.RawMessage `json:"detail"`
				} `json:"events"`
			}
			if err := harness.AdminGet(m.admin, "/v1/events?cluster=msg&limit=1000", &ev); err != nil {
				continue
			}
			for _, x := range ev.Events {
				var d struct {
					Committed bool           `json:"committed"`
					Loss      map[string]any `json:"loss"`
				}
				if x.Type == sentinel.EventFailoverDone && json.Unmarshal(x.Detail, &d) == nil && d.Committed && d.Loss != nil {
					loss = d.Loss
				}
			}
			if loss != nil {
				return nil
			}
		}
		return fmt.Errorf("no failover-done entry with a loss estimate yet")
	})
	return loss
}

// zeroLossClaim reads the cluster's zero-loss claim from the first
// sentinel.
func (e *mysqlEnv) zeroLossClaim() (bool, string, []sentinel.Condition) {
	e.t.Helper()
	v, err := e.view(e.members[0])
	if err != nil {
		e.t.Fatalf("read the cluster view: %v", err)
	}
	return v.ZeroLoss.Claimed, v.ZeroLoss.Why, v.Conditions
}

// DESIGN.md §6.8: a semi-sync primary whose timeout is short (it would
// fall back to asynchronous commits when cut off) is a SemiSyncDrift
// WARNING and loses the zero-loss claim, in the view and in imctl cluster
// show; a failover then journals that acknowledged writes may be lost,
// with the GTIDs known missing. With the §6.2 settings the claim holds.
func TestMySQLSemiSyncMisconfiguredMakesNoZeroLossClaim(t *testing.T) {
	e := startMySQL(t)
	defer e.dumpLogs()
	old := e.top.Primary
	seedEpoch := e.waitRoute("the steward routes the seed primary", old.Addr, 0)
	harness.Eventually(t, deadline, "the zero-loss claim with semi-sync as §6.2 wants", func() error {
		if ok, why, _ := e.zeroLossClaim(); !ok {
			return fmt.Errorf("not claimed: %s", why)
		}
		return nil
	})

	old.Exec(t, "SET GLOBAL rpl_semi_sync_master_timeout=10000") // 10 s: falls back to async when cut off
	harness.Eventually(t, deadline, "SemiSyncDrift raised and the claim withdrawn", func() error {
		ok, why, conds := e.zeroLossClaim()
		drift := false
		for _, c := range conds {
			if c.Name == sentinel.CondSemiSyncDrift && c.Severity == sentinel.SeverityWarning && strings.Contains(c.Detail, "timeout 10s") {
				drift = true
			}
		}
		if ok || !strings.Contains(why, "timeout 10s") || !drift {
			return fmt.Errorf("claimed %t (%s), drift WARNING raised %t", ok, why, drift)
		}
		return nil
	})
	out, _, code := e.imctl("", "cluster", "show", "msg")
	if code != 0 || !strings.Contains(out, "zero loss") || !strings.Contains(out, "NOT claimed") || !strings.Contains(out, "SemiSyncDrift") {
		t.Errorf("imctl cluster show (exit %d) does not show the withdrawn claim and the drift:\n%s", code, out)
	}

	w := startSQLWriter(t, e)
	w.waitMore(t, "rows acknowledged on the primary", old.Addr, 50)
	old.Kill(t)
	np, _, _ := e.waitPromoted(seedEpoch)
	loss := e.failoverLoss()
	if loss["zero_loss"] != false || !strings.Contains(fmt.Sprint(loss["why"]), "no zero-loss claim") ||
		!strings.Contains(fmt.Sprint(loss["why"]), "timeout 10s") {
		t.Errorf("loss estimate %v, want no zero-loss claim naming the short timeout", loss)
	}
	w.halt()
	// Semi-sync still acknowledged every commit here (nothing was cut
	// off long enough to fall back): the claim is withdrawn, not the data.
	if lost := w.lost(t, np); len(lost) > 0 {
		t.Errorf("%d acknowledged rows lost, e.g. %v", len(lost), lost[:min(10, len(lost))])
	}
}
