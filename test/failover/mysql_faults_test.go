package failover

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/imsentinel/imsentinel/test/harness"
)

// The MySQL failover executor under faults (issue 6): a SIGSTOPped
// primary, a replica that received more than it applied, a catch-up that
// stalls. Real mariadbd and imsentinel processes (startMySQL).

// Sequence ranges of the test's writers beside startSQLWriter's (1…).
const (
	faultStaleBase = 1_000_000_000
)

// erReadOnly is MariaDB's ER_OPTION_PREVENTS_STATEMENT: read_only refused
// the statement, so it did not run.
const erReadOnly = 1290

// faultAttempt is one insert of the stale writer and its outcome.
type faultAttempt struct {
	seq        int64
	start, end time.Time
	outcome    string // acked, failed (refused by read_only: it did not run), unknown
	err        string
}

// faultStaleWriter is a client that keeps one connection to one node as
// the application account (harness.MariaDBAppUser: not the admin account
// the sentinels spare, and without READ ONLY ADMIN, so a fence kills its
// sessions and read_only refuses its writes) and inserts rows numbered from faultStaleBase,
// whatever the route says, each insert waiting as long as the server makes
// it (no read timeout): what a stale application server does.
type faultStaleWriter struct {
	addr     string
	mu       sync.Mutex
	attempts []faultAttempt
	stop     chan struct{}
	done     chan struct{}
}

func faultStartStaleWriter(t *testing.T, node *harness.MariaDB) *faultStaleWriter {
	w := &faultStaleWriter{addr: node.Addr, stop: make(chan struct{}), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-w.stop
		cancel()
	}()
	go func() {
		defer close(w.done)
		db, _ := sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(%s)/?timeout=2s", harness.MariaDBAppUser, harness.MariaDBAppPassword, node.Addr))
		defer db.Close()
		db.SetMaxOpenConns(1)
		for seq := int64(faultStaleBase + 1); ; seq++ {
			select {
			case <-w.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			a := faultAttempt{seq: seq, start: time.Now()}
			_, err := db.ExecContext(ctx, "INSERT INTO harness.w VALUES (?)", seq)
			a.end = time.Now()
			var me *mysql.MySQLError
			switch {
			case err == nil:
				a.outcome = "acked"
			case errors.As(err, &me) && me.Number == erReadOnly:
				a.outcome, a.err = "failed", err.Error()
			default:
				a.outcome, a.err = "unknown", err.Error()
			}
			w.mu.Lock()
			w.attempts = append(w.attempts, a)
			w.mu.Unlock()
			if err != nil {
				select {
				case <-w.stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}
	}()
	t.Cleanup(w.halt)
	return w
}

func (w *faultStaleWriter) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

func (w *faultStaleWriter) snapshot() []faultAttempt {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.attempts)
}

// ackedSeqs are the acknowledged rows.
func (w *faultStaleWriter) ackedSeqs() []int64 {
	var out []int64
	for _, a := range w.snapshot() {
		if a.outcome == "acked" {
			out = append(out, a.seq)
		}
	}
	return out
}

// ackedAfter lists the attempts acknowledged after at.
func (w *faultStaleWriter) ackedAfter(at time.Time) []faultAttempt {
	var out []faultAttempt
	for _, a := range w.snapshot() {
		if a.outcome == "acked" && a.end.After(at) {
			out = append(out, a)
		}
	}
	return out
}

// spanning is the attempt in flight at: sent before it, answered after
// (ok false when none has ended yet, or none was in flight).
func (w *faultStaleWriter) spanning(at time.Time) (faultAttempt, bool) {
	for _, a := range w.snapshot() {
		if a.start.Before(at) && a.end.After(at) {
			return a, true
		}
	}
	return faultAttempt{}, false
}

func (w *faultStaleWriter) String() string {
	n := map[string]int{}
	for _, a := range w.snapshot() {
		n[a.outcome]++
	}
	return fmt.Sprintf("%d acked, %d failed (read_only), %d unknown", n["acked"], n["failed"], n["unknown"])
}

// faultBurst inserts n transactions of rows rows each into harness.bulk
// (created here: an id and 200 bytes of padding, so a replica takes a
// while to apply them) on the node as the admin account, over conns
// connections, and returns how many rows were acknowledged: all of them,
// or the test fails. With semi-sync a transaction is acknowledged once a
// replica has received it.
func faultBurst(t *testing.T, node *harness.MariaDB, conns, n, rows int) int {
	t.Helper()
	node.Exec(t, "CREATE TABLE harness.bulk (id BIGINT PRIMARY KEY, pad CHAR(200) NOT NULL)")
	db, err := sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(%s)/?timeout=5s", harness.MariaDBAdminUser, harness.MariaDBAdminPassword, node.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(conns)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for c := range conns {
		wg.Go(func() {
			for i := c; i < n; i += conns {
				from := i*rows + 1
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, err := db.ExecContext(ctx, fmt.Sprintf("INSERT INTO harness.bulk SELECT seq, REPEAT('x', 200) FROM harness.seq_%d_to_%d",
					from, from+rows-1))
				cancel()
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("burst on %s: %d transactions failed, e.g. %v", node.Addr, len(errs), errs[0])
	}
	return n * rows
}

// faultMissing returns the rows of seqs the node does not have.
func faultMissing(t *testing.T, node *harness.MariaDB, seqs []int64) []int64 {
	t.Helper()
	have := map[int64]bool{}
	rows, err := node.DB(t).Query("SELECT seq FROM harness.w")
	if err != nil {
		t.Fatalf("read back the rows from %s: %v", node.Addr, err)
	}
	defer rows.Close()
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("read back the rows from %s: %v", node.Addr, err)
		}
		have[s] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read back the rows from %s: %v", node.Addr, err)
	}
	var missing []int64
	for _, s := range seqs {
		if !have[s] {
			missing = append(missing, s)
		}
	}
	return missing
}

// faultHasRow says whether the node has row seq.
func faultHasRow(t *testing.T, node *harness.MariaDB, seq int64) bool {
	t.Helper()
	return node.QueryString(t, "SELECT COUNT(*) FROM harness.w WHERE seq = ?", seq) == "1"
}

// faultAcked are the route writer's acknowledged rows.
func faultAcked(w *sqlWriter) []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.acked)
}

// faultAckedTotal counts the route writer's acknowledged rows.
func faultAckedTotal(w *sqlWriter) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// faultWaitAcked waits until the route writer has n more acknowledged rows
// on addr than it had at the call.
func faultWaitAcked(t *testing.T, w *sqlWriter, what, addr string, n int) {
	t.Helper()
	base := w.ackedOn(addr)
	harness.Eventually(t, deadline, what, func() error {
		if got := w.ackedOn(addr) - base; got < n {
			return fmt.Errorf("%d new rows acknowledged on %s, want %d", got, addr, n)
		}
		return nil
	})
}

// faultReplicating waits until r replicates primary with both threads
// running.
func faultReplicating(t *testing.T, r, primary *harness.MariaDB) {
	t.Helper()
	harness.Eventually(t, deadline, r.Addr+" replicates "+primary.Addr, func() error {
		st := r.ReplicaStatus(t)
		if st["Master_Port"] != strconv.Itoa(primary.Port) || st["Slave_IO_Running"] != "Yes" || st["Slave_SQL_Running"] != "Yes" {
			return fmt.Errorf("%s: master port %q, IO %q, SQL %q (%s%s)", r.Addr, st["Master_Port"], st["Slave_IO_Running"],
				st["Slave_SQL_Running"], st["Last_IO_Error"], st["Last_SQL_Error"])
		}
		return nil
	})
}

// faultPosition is what a replica received and applied (MariaDB GTIDs).
func faultPosition(t *testing.T, r *harness.MariaDB) (received, applied string) {
	t.Helper()
	return r.ReplicaStatus(t)["Gtid_IO_Pos"], r.Variable(t, "gtid_slave_pos")
}

// faultSeqOf is the sequence number of a single-domain MariaDB GTID
// position (0-1-123 → 123); -1 when it is not one.
func faultSeqOf(pos string) int64 {
	i := strings.LastIndexByte(pos, '-')
	if i < 0 || strings.Contains(pos, ",") {
		return -1
	}
	n, err := strconv.ParseInt(pos[i+1:], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// faultNewPrimary waits until the route names one of the replicas at an
// epoch above minEpoch and returns it and the epoch.
func faultNewPrimary(t *testing.T, e *mysqlEnv, minEpoch uint64) (*harness.MariaDB, uint64) {
	t.Helper()
	np, _, epoch := e.waitPromoted(minEpoch)
	return np, epoch
}

// faultNeverRoutedTo reads the route for d and fails the test if it ever
// names addr (DESIGN.md §6.6: a returning old primary is never routed to).
func faultNeverRoutedTo(t *testing.T, e *mysqlEnv, addr string, d time.Duration) {
	t.Helper()
	reads := 0
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		h, err := e.route()
		if err != nil {
			continue
		}
		reads++
		if h["primary"] == addr {
			t.Errorf("the route names the old primary %s again: %v", addr, h)
			return
		}
	}
	if reads == 0 {
		t.Errorf("the route could not be read once in %v", d)
	}
}

// faultEvent is one journal entry (quorum/store.Entry) of one sentinel.
type faultEvent struct {
	Seq      uint64          `json:"seq"`
	At       time.Time       `json:"at"`
	Epoch    uint64          `json:"epoch"`
	Sentinel string          `json:"sentinel"`
	Type     string          `json:"type"`
	Detail   json.RawMessage `json:"detail"`
	// step holds the detail's fields of a step entry; Epoch is in the
	// detail of most entries.
	step struct {
		Step   string `json:"step"`
		Epoch  uint64 `json:"epoch"`
		TookMS int64  `json:"took_ms"`
		Err    string `json:"err"`
		Detail string `json:"detail"`
	}
}

// faultJournal merges the sentinels' journals from since on, in time order.
func faultJournal(t *testing.T, e *mysqlEnv, since time.Time) []faultEvent {
	t.Helper()
	var all []faultEvent
	for _, m := range e.members {
		var resp struct {
			Events []faultEvent `json:"events"`
		}
		if err := harness.AdminGet(m.admin, "/v1/events?cluster="+e.o.cluster+"&limit=1000", &resp); err != nil {
			t.Logf("journal of %s: %v", m.id, err)
			continue
		}
		for _, ev := range resp.Events {
			if ev.At.Before(since) {
				continue
			}
			if ev.Sentinel == "" {
				ev.Sentinel = m.id
			}
			// Most entries carry their epoch in the detail only.
			_ = json.Unmarshal(ev.Detail, &ev.step)
			if ev.Epoch == 0 {
				ev.Epoch = ev.step.Epoch
			}
			all = append(all, ev)
		}
	}
	slices.SortStableFunc(all, func(a, b faultEvent) int { return a.At.Compare(b.At) })
	return all
}

// faultTimeline logs the journal from the fault on and the delays from
// the fault to ODOWN, the winning election, the promotion and the route
// of epoch (0: no winner to report).
func faultTimeline(t *testing.T, e *mysqlEnv, fault string, at time.Time, epoch uint64) []faultEvent {
	t.Helper()
	evs := faultJournal(t, e, at)
	first := map[string]time.Time{}
	note := func(k string, ts time.Time) {
		if _, ok := first[k]; !ok {
			first[k] = ts
		}
	}
	for _, ev := range evs {
		switch {
		case ev.Type == "agreement:odown":
			note("odown", ev.At)
		case ev.Type == "agreement:elected" && ev.Epoch == epoch:
			note("elected", ev.At)
		case ev.Type == "step" && ev.Epoch == epoch && ev.step.Err == "":
			note(ev.step.Step, ev.At)
		}
		if ev.Type == "sdown" || ev.Type == "sdown-cleared" || strings.HasPrefix(ev.Type, "agreement:") && ev.Type != "agreement:voted" ||
			ev.Type == "step" || ev.Type == "failover-done" || ev.Type == "repair" || ev.Type == "condition" ||
			ev.Type == "split-brain" || ev.Type == "failover-plan" {
			var buf bytes.Buffer
			d := string(ev.Detail)
			if json.Compact(&buf, ev.Detail) == nil {
				d = buf.String()
			}
			if ev.Type == "failover-plan" && len(d) > 300 {
				d = d[:300] + "…"
			}
			t.Logf("journal %+8dms %s e%d %s %s", ev.At.Sub(at).Milliseconds(), ev.Sentinel, ev.Epoch, ev.Type, d)
		}
	}
	var parts []string
	for _, k := range []string{"odown", "elected", "stop-io", "catch-up", "promote", "repoint", "commit", "route"} {
		if ts, ok := first[k]; ok {
			parts = append(parts, fmt.Sprintf("%s +%dms", k, ts.Sub(at).Milliseconds()))
		}
	}
	t.Logf("timeline from %s (epoch %d): %s", fault, epoch, strings.Join(parts, ", "))
	return evs
}

// faultStep is the first successful step name of epoch in the journal.
func faultStep(evs []faultEvent, epoch uint64, name string) (faultEvent, bool) {
	for _, ev := range evs {
		if ev.Type == "step" && ev.Epoch == epoch && ev.step.Step == name && ev.step.Err == "" {
			return ev, true
		}
	}
	return faultEvent{}, false
}

// SIGSTOP of a semi-sync MariaDB primary (issue 6): one promotion, the
// route moves at a higher epoch, no acknowledged row is lost. A stale
// client of the old primary, mid-insert when it stopped, gets nothing
// acknowledged after SIGCONT: the replicas' IO threads were stopped, so its
// commit waits for an acknowledgement that never comes (AFTER_SYNC,
// wait_no_slave, a day's timeout: DESIGN.md §6.2), until the steward fences
// the node (read_only=ON, its sessions killed: §6.1, §6.6). The route never
// names the old primary again.
//
// Here it resumes as soon as the route moved, while the failover's own
// background fence of it is still waiting to connect.
func TestMySQLFaultPausedPrimaryIsFencedWhenItResumes(t *testing.T) {
	faultPausedPrimary(t, false)
}

// The same, but the old primary resumes only after the failover ended (its
// fence gave up on the stopped node): the steward finds it answering as a
// writable primary and fences it (DESIGN.md §6.6).
func TestMySQLFaultPausedPrimaryResumingAfterTheFailoverIsFenced(t *testing.T) {
	faultPausedPrimary(t, true)
}

// faultPausedPrimary is the SIGSTOP test; late resumes the old primary
// only after the failover ended.
func faultPausedPrimary(t *testing.T, late bool) {
	e := startMySQL(t)
	defer e.dumpLogs()
	old := e.top.Primary
	seedEpoch := e.waitRoute("the steward routes the seed primary", old.Addr, 0)
	w := startSQLWriter(t, e)
	stale := faultStartStaleWriter(t, old)
	faultWaitAcked(t, w, "rows acknowledged on the seed primary", old.Addr, 100)
	harness.Eventually(t, deadline, "the stale client's rows acknowledged on the seed primary", func() error {
		if n := len(stale.ackedSeqs()); n < 50 {
			return fmt.Errorf("%d acknowledged (%s)", n, stale)
		}
		return nil
	})

	pausedAt := time.Now()
	old.Pause(t)
	np, epoch := faultNewPrimary(t, e, seedEpoch)
	routedAt := time.Now()
	if ro := np.QueryString(t, "SELECT @@read_only"); ro != "0" {
		t.Errorf("the new primary %s has read_only=%s", np.Addr, ro)
	}
	if late {
		harness.Eventually(t, deadline, "the failover ends, its fence of the stopped old primary given up", func() error {
			for _, ev := range faultJournal(t, e, pausedAt) {
				if ev.Type == "failover-done" && ev.Epoch == epoch {
					return nil
				}
			}
			return fmt.Errorf("no failover-done at epoch %d in the journals yet", epoch)
		})
		for _, ev := range faultJournal(t, e, pausedAt) {
			if ev.Type == "step" && ev.Epoch == epoch && ev.step.Step == "fence" && ev.step.Err == "" {
				t.Fatalf("setup: the failover fenced the stopped old primary: %s", ev.Detail)
			}
		}
	}
	resumedAt := time.Now()
	old.Resume(t)
	t.Logf("SIGSTOP → route seen on %s: %v; resumed %v after the route moved", np.Addr, routedAt.Sub(pausedAt), resumedAt.Sub(routedAt))

	// The old primary is fenced: read_only, and the stale client's session,
	// mid-insert since the SIGSTOP, ended without an acknowledgement.
	harness.Eventually(t, deadline, "the old primary is fenced (read_only=ON)", func() error {
		if ro := old.QueryString(t, "SELECT @@read_only"); ro != "1" {
			return fmt.Errorf("%s has read_only=%s", old.Addr, ro)
		}
		return nil
	})
	fencedAt := time.Now()
	var pending faultAttempt
	harness.Eventually(t, deadline, "the stale client's insert waiting since the SIGSTOP ends", func() error {
		a, ok := stale.spanning(resumedAt)
		if !ok {
			return fmt.Errorf("still waiting (%s)", stale)
		}
		pending = a
		return nil
	})
	t.Logf("stale insert %d: sent at SIGSTOP%+v, answered at SIGCONT+%v: %s %s (row on the old primary: %v)",
		pending.seq, pending.start.Sub(pausedAt), pending.end.Sub(resumedAt), pending.outcome, pending.err, faultHasRow(t, old, pending.seq))
	harness.Eventually(t, deadline, "the stale client's inserts are refused by read_only", func() error {
		for _, a := range stale.snapshot() {
			if a.start.After(resumedAt) && a.outcome == "failed" {
				return nil
			}
		}
		return fmt.Errorf("no insert refused with error %d yet (%s)", erReadOnly, stale)
	})
	faultNeverRoutedTo(t, e, old.Addr, 5*time.Second)

	faultWaitAcked(t, w, "rows acknowledged on the new primary", np.Addr, 50)
	w.halt()
	stale.halt()
	// A split-brain write is one the old primary acknowledged that the new
	// primary lacks. An insert in flight at the SIGSTOP may be answered
	// right after the SIGCONT and still be shared history: a replica
	// acknowledged it (AFTER_SYNC) before the stop, and the OK was not
	// sent yet; then the new primary has it. One the new primary lacks,
	// acknowledged after the SIGCONT, is the split brain fencing prevents.
	var lateAcked []int64
	for _, a := range stale.ackedAfter(resumedAt) {
		lateAcked = append(lateAcked, a.seq)
	}
	if missing := faultMissing(t, np, lateAcked); len(missing) > 0 {
		t.Errorf("split brain: the old primary %s acknowledged %d of the stale client's inserts after the SIGCONT that the new primary %s lacks: %v",
			old.Addr, len(missing), np.Addr, missing)
	} else if len(lateAcked) > 0 {
		t.Logf("%d stale inserts answered after the SIGCONT, all on the new primary (acknowledged by a replica before the SIGSTOP): %v", len(lateAcked), lateAcked)
	}
	if lost := faultMissing(t, np, append(faultAcked(w), stale.ackedSeqs()...)); len(lost) > 0 {
		t.Errorf("%d acknowledged rows lost on the new primary %s, e.g. %v", len(lost), np.Addr, lost[:min(10, len(lost))])
	}
	if n := e.logCount("failover: promoted"); n != 1 {
		t.Errorf("%d promotions in the sentinels' logs, want exactly 1", n)
	}
	for _, r := range e.top.Replicas {
		if r != np {
			faultReplicating(t, r, np)
		}
	}

	// strict: the route moved after every replica's IO thread was stopped
	// (the old primary's self-fence holds from then on).
	evs := faultTimeline(t, e, "SIGSTOP", pausedAt, epoch)
	stopIO, ok1 := faultStep(evs, epoch, "stop-io")
	route, ok2 := faultStep(evs, epoch, "route")
	switch {
	case !ok1 || !ok2:
		t.Errorf("epoch %d: stop-io journaled %v, route journaled %v; want both", epoch, ok1, ok2)
	case route.At.Before(stopIO.At):
		t.Errorf("epoch %d: the route was written (%v) before the IO threads were stopped (%v)", epoch, route.At, stopIO.At)
	}
	t.Logf("route seen +%v, SIGCONT +%v, old primary read_only seen +%v; writer: %d acked; stale client: %s",
		routedAt.Sub(pausedAt), resumedAt.Sub(pausedAt), fencedAt.Sub(pausedAt), faultAckedTotal(w), stale)
	for _, line := range strings.Split(e.members[0].s.Logs()+e.members[1].s.Logs()+e.members[2].s.Logs(), "\n") {
		if strings.Contains(line, "steward:") || strings.Contains(line, "condition raised") && strings.Contains(line, old.Addr) {
			t.Logf("%s", line)
		}
	}
}

// faultApplyWatch polls a replica until it has applied everything it
// received by the time of the call, and records when.
type faultApplyWatch struct {
	done chan struct{}
	at   time.Time
	err  error
}

func faultWatchApplied(r *harness.MariaDB, target int64) *faultApplyWatch {
	aw := &faultApplyWatch{done: make(chan struct{})}
	go func() {
		defer close(aw.done)
		db, err := sql.Open("mysql", r.DSN("root", ""))
		if err != nil {
			aw.err = err
			return
		}
		defer db.Close()
		for end := time.Now().Add(deadline); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			var pos string
			if err := db.QueryRow("SELECT @@GLOBAL.gtid_slave_pos").Scan(&pos); err != nil {
				aw.err = err
				continue
			}
			if faultSeqOf(pos) >= target {
				aw.at, aw.err = time.Now(), nil
				return
			}
		}
		aw.err = fmt.Errorf("%s did not apply up to seq %d within %v (last error %v)", r.Addr, target, deadline, aw.err)
	}()
	return aw
}

// faultStopLagging makes lag the only replica receiving (other's IO thread
// stopped) and stops lag's applier, so what follows is received but not
// applied on lag, and nowhere else.
func faultStopLagging(t *testing.T, lag, other *harness.MariaDB) {
	t.Helper()
	other.Exec(t, "STOP SLAVE IO_THREAD")
	lag.Exec(t, "STOP SLAVE SQL_THREAD")
}

// A replica that received more than it applied (issue 6, DESIGN.md §6.5):
// the other replica stopped receiving earlier, so the lagging one alone
// holds the newest acknowledged rows and must be chosen; its applier,
// stopped while the primary took a backlog, is started again right after
// kill -9 of the primary. The executor's catch-up must have applied the
// whole backlog before the promotion made it writable: no acknowledged row
// is lost, and the other replica ends replicating the new primary.
func TestMySQLFaultLaggingReplicaIsCaughtUpBeforePromotion(t *testing.T) {
	e := startMySQL(t)
	defer e.dumpLogs()
	old := e.top.Primary
	lag, other := e.top.Replicas[0], e.top.Replicas[1]
	seedEpoch := e.waitRoute("the steward routes the seed primary", old.Addr, 0)
	w := startSQLWriter(t, e)
	faultWaitAcked(t, w, "rows acknowledged on the seed primary", old.Addr, 50)

	faultStopLagging(t, lag, other)
	burstAt := time.Now()
	burst := faultBurst(t, old, 4, 1200, 400)
	burstTook := time.Since(burstAt)
	faultWaitAcked(t, w, "rows acknowledged while only the lagging replica receives", old.Addr, 50)
	received, applied := faultPosition(t, lag)
	otherReceived, _ := faultPosition(t, other)
	backlog := faultSeqOf(received) - faultSeqOf(applied)
	if backlog < 1000 || faultSeqOf(otherReceived) >= faultSeqOf(received) {
		t.Fatalf("setup: %s received %s and applied %s (backlog %d, want ≥ 1000); %s received %s (want less)",
			lag.Addr, received, applied, backlog, other.Addr, otherReceived)
	}

	killedAt := time.Now()
	old.Kill(t)
	lag.Exec(t, "START SLAVE SQL_THREAD")
	restartedAt := time.Now()
	aw := faultWatchApplied(lag, faultSeqOf(received))

	np, epoch := faultNewPrimary(t, e, seedEpoch)
	if np != lag {
		t.Fatalf("promoted %s, which lacks what only %s received (%s vs %s)", np.Addr, lag.Addr, otherReceived, received)
	}
	if ro := np.QueryString(t, "SELECT @@read_only"); ro != "0" {
		t.Errorf("the new primary %s has read_only=%s", np.Addr, ro)
	}
	faultReplicating(t, other, np)
	faultWaitAcked(t, w, "rows acknowledged on the new primary", np.Addr, 50)
	w.halt()
	acked := faultAcked(w)
	other.WaitGTID(t, np.Variable(t, "gtid_binlog_pos"))
	for _, r := range []*harness.MariaDB{np, other} {
		if lost := faultMissing(t, r, acked); len(lost) > 0 {
			t.Errorf("%d acknowledged rows lost on %s, e.g. %v", len(lost), r.Addr, lost[:min(10, len(lost))])
		}
		if n := r.QueryString(t, "SELECT COUNT(*) FROM harness.bulk"); n != strconv.Itoa(burst) {
			t.Errorf("%s has %s of the %d acknowledged rows of the burst", r.Addr, n, burst)
		}
	}
	if n := e.logCount("failover: promoted"); n != 1 {
		t.Errorf("%d promotions in the sentinels' logs, want exactly 1", n)
	}

	// The journal: the catch-up of the winning epoch waited for what the
	// candidate had received, and the promotion came after it.
	evs := faultTimeline(t, e, "kill -9", killedAt, epoch)
	catchUp, ok1 := faultStep(evs, epoch, "catch-up")
	promoted, ok2 := faultStep(evs, epoch, "promote")
	switch {
	case !ok1 || !ok2:
		t.Errorf("epoch %d: catch-up journaled %v, promote journaled %v; want both", epoch, ok1, ok2)
	case promoted.At.Before(catchUp.At):
		t.Errorf("epoch %d: promoted (%v) before the catch-up ended (%v)", epoch, promoted.At, catchUp.At)
	case faultSeqOf(strings.TrimPrefix(catchUp.step.Detail, "applied ")) < faultSeqOf(received):
		t.Errorf("epoch %d: the catch-up waited for %q, less than the %s %s received", epoch, catchUp.step.Detail, lag.Addr, received)
	}
	<-aw.done
	applyAt := "never seen"
	if aw.err == nil {
		applyAt = fmt.Sprintf("+%dms", aw.at.Sub(killedAt).Milliseconds())
	}
	t.Logf("burst of %d rows acknowledged in %v; backlog %d transactions on %s (received %s, applied %s; %s received %s); applier started +%dms, backlog applied %s; catch-up took %dms (%s), failures: %d",
		burst, burstTook, backlog, lag.Addr, received, applied, other.Addr, otherReceived, restartedAt.Sub(killedAt).Milliseconds(), applyAt,
		catchUp.step.TookMS, catchUp.step.Detail, e.logCount("failover: ended without finishing"))
}

// The catch-up stalls (issue 6, DESIGN.md §6.5): the lagging replica alone
// holds the newest acknowledged rows and its applier stays stopped, so no
// replica can be promoted without losing them. The primary is SIGSTOPped
// (a failover starts, stops the IO threads, and fails on the stall), then
// SIGCONTed. What must hold: nothing that had not applied everything is
// ever made writable, and the cluster ends writable again somewhere with
// no acknowledged row lost (the failed failover undoes its detach).
func TestMySQLFaultStalledCatchUpLeavesTheClusterWritable(t *testing.T) {
	e := startMySQL(t)
	defer e.dumpLogs()
	old := e.top.Primary
	lag, other := e.top.Replicas[0], e.top.Replicas[1]
	e.waitRoute("the steward routes the seed primary", old.Addr, 0)
	w := startSQLWriter(t, e)
	faultWaitAcked(t, w, "rows acknowledged on the seed primary", old.Addr, 50)

	faultStopLagging(t, lag, other)
	faultWaitAcked(t, w, "rows acknowledged while only the lagging replica receives", old.Addr, 100)
	received, applied := faultPosition(t, lag)
	if faultSeqOf(received) <= faultSeqOf(applied) {
		t.Fatalf("setup: %s received %s and applied %s, want a backlog", lag.Addr, received, applied)
	}

	// lag never applies its backlog in this test: it must never be
	// writable.
	stopWatch := make(chan struct{})
	watchDone := make(chan []string)
	go func() {
		var seen []string
		db, _ := sql.Open("mysql", lag.DSN("root", ""))
		defer db.Close()
		for {
			select {
			case <-stopWatch:
				watchDone <- seen
				return
			case <-time.After(50 * time.Millisecond):
			}
			var ro string
			if err := db.QueryRow("SELECT @@GLOBAL.read_only").Scan(&ro); err == nil && ro != "1" && len(seen) < 5 {
				seen = append(seen, time.Now().Format("15:04:05.000"))
			}
		}
	}()
	defer func() {
		select {
		case <-stopWatch:
		default:
			close(stopWatch)
			<-watchDone
		}
	}()

	pausedAt := time.Now()
	old.Pause(t)
	// Two attempts: the second runs on what the first (and its undo) left.
	harness.Eventually(t, deadline, "two failovers give up on the stalled catch-up (or one promotes)", func() error {
		e.checkAlive()
		if n := e.logCount("failover: ended without finishing"); n < 2 && e.logCount("failover: promoted") == 0 {
			return fmt.Errorf("%d failovers ended without finishing", n)
		}
		return nil
	})
	stalledAt := time.Now()
	for _, r := range e.top.Replicas {
		st := r.ReplicaStatus(t)
		t.Logf("after the failed failovers (old primary stopped): %s IO %s, SQL %s, read_only %s", r.Addr,
			st["Slave_IO_Running"], st["Slave_SQL_Running"], r.Variable(t, "read_only"))
	}
	resumedAt := time.Now()
	old.Resume(t)
	for _, line := range strings.Split(e.members[0].s.Logs()+e.members[1].s.Logs()+e.members[2].s.Logs(), "\n") {
		if strings.Contains(line, "failover: ended without finishing") || strings.Contains(line, "gave up before promoting") ||
			strings.Contains(line, "could not give the cluster back") {
			t.Logf("%s", line)
		}
	}

	// Writable again: the route writer gets rows acknowledged.
	base := faultAckedTotal(w)
	harness.Eventually(t, deadline, "rows acknowledged again after the SIGCONT", func() error {
		e.checkAlive()
		if n := faultAckedTotal(w) - base; n < 20 {
			h, _ := e.route()
			var states []string
			for _, r := range e.top.All() {
				st := r.ReplicaStatus(t)
				states = append(states, fmt.Sprintf("%s read_only %s IO %q SQL %q", r.Addr, r.Variable(t, "read_only"),
					st["Slave_IO_Running"], st["Slave_SQL_Running"]))
			}
			return fmt.Errorf("%d new rows acknowledged; route %v; %s", n, h, strings.Join(states, "; "))
		}
		return nil
	})
	writableAt := time.Now()
	w.halt()
	h, err := e.route()
	if err != nil {
		t.Fatalf("read the route: %v", err)
	}
	var primary *harness.MariaDB
	for _, r := range e.top.All() {
		if r.Addr == h["primary"] {
			primary = r
		}
	}
	if primary == nil {
		t.Fatalf("the route names %v, no node of the cluster", h)
	}
	if lost := faultMissing(t, primary, faultAcked(w)); len(lost) > 0 {
		t.Errorf("%d acknowledged rows lost on the routed primary %s, e.g. %v", len(lost), primary.Addr, lost[:min(10, len(lost))])
	}
	close(stopWatch)
	if seen := <-watchDone; len(seen) > 0 {
		t.Errorf("%s, which never applied its backlog, was writable at %v", lag.Addr, seen)
	}
	if n := e.logCount("failover: promoted"); n != 0 {
		t.Errorf("%d promotions in the sentinels' logs, want none (no replica had everything applied)", n)
	}
	faultTimeline(t, e, "SIGSTOP", pausedAt, 0)
	t.Logf("SIGSTOP → second failed failover (or a promotion) seen +%v; SIGCONT +%v; writable again on %s +%v after SIGCONT; failed failovers %d; writer %d acked",
		stalledAt.Sub(pausedAt), resumedAt.Sub(pausedAt), primary.Addr, writableAt.Sub(resumedAt),
		e.logCount("failover: ended without finishing"), faultAckedTotal(w))
}
