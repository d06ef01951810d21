package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/imsentinel/imsentinel/test/harness"
)

// The MySQL failover benchmark's client: an application that follows
// imsentinel's route (the same resolver as the Redis failover writer, HGET
// imsentinel:route:<cluster> primary every resolvePause) and inserts rows
// numbered by its own sequence, one at a time, every writePause, as the
// application account (harness.MariaDBAppUser: no READ ONLY ADMIN, so
// read_only stops it). Each insert is autocommitted and judged by its own
// outcome, as test/failover's sqlWriter:
//
//   - acknowledged: the INSERT returned OK. Under semi-sync AFTER_SYNC the
//     commit returns only once a replica has received it;
//   - failed: it certainly did not run (connection refused, read_only,
//     refused login);
//   - unknown: anything else (the connection broke or timed out while the
//     statement was out): it may or may not be on some node.
//
// On a new answer from the route it moves there and cancels whatever is in
// flight on the old address. It never goes back to an address it left.
const (
	sqlTable        = "harness.w"
	sqlWriteTimeout = 3 * time.Second // one INSERT, as test/failover's writer
	unknownSample   = 10              // unknown outcomes whose error a trial keeps
)

// sqlTarget is one primary the writer has written to.
type sqlTarget struct {
	db     *sql.DB
	ctx    context.Context // canceled when the writer leaves the address
	cancel context.CancelFunc
}

// sqlWriter is the sequence-numbered MySQL client (see above).
type sqlWriter struct {
	res resolver

	record  // its mu guards the fields below too
	targets map[string]*sqlTarget
	seq     int64
	failed  int
	unknown []int64  // sequence numbers whose outcome is unknown
	why     []string // the first unknownSample of their errors, "seq: err"

	wg     sync.WaitGroup
	halted sync.Once
}

// startSQLWriter starts a writer that follows res.
func startSQLWriter(res resolver) *sqlWriter {
	w := &sqlWriter{res: res, record: newRecord(), targets: map[string]*sqlTarget{}}
	w.wg.Go(w.follow)
	w.wg.Go(w.run)
	return w
}

// halt stops the writer, waits for its goroutines and closes its pools and
// its resolver. Idempotent.
func (w *sqlWriter) halt() {
	w.halted.Do(func() {
		close(w.stop)
		w.wg.Wait()
		w.mu.Lock()
		defer w.mu.Unlock()
		for a, t := range w.targets {
			t.cancel()
			_ = t.db.Close()
			delete(w.targets, a)
		}
		w.res.close()
	})
}

// follow asks the resolver every resolvePause and moves on a new answer,
// cancelling the inserts on the node it leaves (one stuck there breaks;
// the pool is closed by halt).
func (w *sqlWriter) follow() {
	w.record.follow(w.res, func(old string) {
		if t, ok := w.targets[old]; ok {
			t.cancel()
		}
	})
}

// target is where the next insert goes ("" and nil: no primary known yet).
func (w *sqlWriter) target() (string, *sqlTarget) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.addr == "" {
		return "", nil
	}
	t, ok := w.targets[w.addr]
	if !ok {
		// Open only parses the DSN. Short dial timeout: a dead primary
		// refuses at once, a stopped one must not hold the writer long.
		db, _ := sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(%s)/?timeout=300ms&readTimeout=%s&writeTimeout=%s",
			harness.MariaDBAppUser, harness.MariaDBAppPassword, w.addr, sqlWriteTimeout, sqlWriteTimeout))
		db.SetMaxOpenConns(1)
		t = &sqlTarget{db: db}
		t.ctx, t.cancel = context.WithCancel(context.Background())
		w.targets[w.addr] = t
	}
	return w.addr, t
}

func (w *sqlWriter) run() {
	for !w.stopped(writePause) {
		addr, t := w.target()
		if t == nil {
			continue
		}
		w.mu.Lock()
		w.seq++
		seq := w.seq
		w.mu.Unlock()
		ctx, cancel := context.WithTimeout(t.ctx, sqlWriteTimeout)
		_, err := t.db.ExecContext(ctx, "INSERT INTO "+sqlTable+" (seq) VALUES (?)", seq)
		cancel()
		now := time.Now()
		w.mu.Lock()
		switch {
		case err == nil:
			w.acked = append(w.acked, write{Seq: seq, Addr: addr, SetOK: now, Acked: now})
		case sqlRefused(err):
			w.failed++
		default:
			w.unknown = append(w.unknown, seq)
			if len(w.why) < unknownSample {
				w.why = append(w.why, fmt.Sprintf("%d on %s: %v", seq, addr, err))
			}
		}
		w.mu.Unlock()
	}
}

// sqlRefused says whether an INSERT certainly did not run: nothing
// listened, the login was refused, or the server refused the statement
// because it is read-only.
func sqlRefused(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1290, // ER_OPTION_PREVENTS_STATEMENT: --read-only
			1836, // ER_READ_ONLY_MODE
			1044, // ER_DBACCESS_DENIED_ERROR
			1045, // ER_ACCESS_DENIED_ERROR
			1040: // ER_CON_COUNT_ERROR
			return true
		}
		return false
	}
	return strings.Contains(err.Error(), "connection refused")
}

func (w *sqlWriter) stats() writerStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return writerStats{Writes: w.seq, Acked: len(w.acked), SetOK: len(w.acked), Failed: w.failed,
		Unknown: len(w.unknown), Moves: append([]move(nil), w.moves...)}
}

func (w *sqlWriter) ackedSeqs() []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]int64, len(w.acked))
	for i, a := range w.acked {
		out[i] = a.Seq
	}
	return out
}

func (w *sqlWriter) unknownSeqs() []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]int64(nil), w.unknown...)
}

// unknownErrors returns the first unknownSample unknown outcomes' errors.
func (w *sqlWriter) unknownErrors() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.why...)
}

// sqlRows reads every sequence number in sqlTable on node, as root.
func sqlRows(node *harness.MariaDB) (map[int64]bool, error) {
	db, err := sql.Open("mysql", node.DSN("root", ""))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, "SELECT seq FROM "+sqlTable)
	if err != nil {
		return nil, fmt.Errorf("read back the rows from %s: %w", node.Addr, err)
	}
	defer rows.Close()
	have := map[int64]bool{}
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("read back the rows from %s: %w", node.Addr, err)
		}
		have[s] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read back the rows from %s: %w", node.Addr, err)
	}
	return have, nil
}
