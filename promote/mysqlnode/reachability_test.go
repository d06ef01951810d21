package mysqlnode

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/imsentinel/imsentinel/promote/mysqlsql"
)

// timeoutErr is a net.Error that timed out, as a dial under a deadline
// returns.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	lockWait := &mysql.MySQLError{Number: 1205, Message: "Lock wait timeout exceeded; try restarting transaction"}
	denied := &mysql.MySQLError{Number: 1045, Message: "Access denied for user 'imsentinel'@'127.0.0.1' (using password: YES)"}
	tests := []struct {
		name string
		err  error
		want Reachability
	}{
		{"nil", nil, Answered},
		{"server error", lockWait, Failed},
		{"server error, wrapped", fmt.Errorf("fence 127.0.0.1:3306: SET GLOBAL read_only=ON: %w", lockWait), Failed},
		{"login denied", fmt.Errorf("connect: %w", denied), Failed},
		{"connection killed by the server", &mysql.MySQLError{Number: 1927, Message: "Connection was killed"}, Failed},
		{"stalled applier", fmt.Errorf("wait: SQL thread stopped: %w", ErrStalled), Failed},
		{"replication thread error", fmt.Errorf("repoint: IO thread error 2003: %w", ErrReplication), Failed},
		{"not replicating", ErrNotReplicating, Failed},
		{"still read-only", ErrReadOnly, Failed},
		{"dial refused", refused, Refused},
		{"dial refused, wrapped", fmt.Errorf("promote 127.0.0.1:1: connect: %w", refused), Refused},
		{"bare ECONNREFUSED", syscall.ECONNREFUSED, Refused},
		{"dial timeout", &net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}, Unreachable},
		{"ctx deadline (a hung server)", fmt.Errorf("SELECT 1: %w", context.DeadlineExceeded), Unreachable},
		{"ctx cancelled", context.Canceled, Unreachable},
		{"invalid connection (closed mid-call)", mysql.ErrInvalidConn, Unreachable},
		{"bad connection", driver.ErrBadConn, Unreachable},
		{"reset mid-call", &net.OpError{Op: "read", Net: "tcp", Err: &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}}, Unreachable},
		{"EOF", io.EOF, Unreachable},
		{"no route", &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.EHOSTUNREACH}}, Unreachable},
		{"node closed", ErrClosed, Unreachable},
		{"session lost earlier in the call", fmt.Errorf("SET GLOBAL read_only=ON: %w", ErrSessionLost), Unreachable},
		{"no address", ErrNoAddress, Unreachable},
		{"invalid input, no I/O", fmt.Errorf("fence: %w", mysqlsql.ErrInvalid), Unreachable},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("%s: Classify(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestNoCallsWithoutAddressOrAfterClose(t *testing.T) {
	ctx := context.Background()
	n := Open(Options{Username: "imsentinel"})
	if _, err := n.Position(ctx); !errors.Is(err, ErrNoAddress) {
		t.Errorf("Position without an address: %v, want ErrNoAddress", err)
	}
	// Open does no I/O, and neither does Close before the first call.
	n = Open(Options{Address: "127.0.0.1:1", Username: "imsentinel"})
	if err := n.Close(); err != nil {
		t.Errorf("Close before any call: %v", err)
	}
	if err := n.StopIOThread(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("StopIOThread after Close: %v, want ErrClosed", err)
	}
}

func TestRepointToItselfRefusedBeforeIO(t *testing.T) {
	n := Open(Options{Address: "127.0.0.1:1", Username: "imsentinel"}) // nothing listens on port 1
	defer n.Close()
	err := n.Repoint(context.Background(), mysqlsql.Source{Host: "127.0.0.1", Port: 1, User: "repl",
		Heartbeat: mysqlsql.MaxHeartbeat, ConnectRetry: 1e9})
	if !errors.Is(err, mysqlsql.ErrInvalid) || Classify(err) == Refused {
		t.Errorf("Repoint to itself: %v, want ErrInvalid before any dial", err)
	}
}

// TestLostSessionEndsTheCall: a statement after the session was dropped in
// the same call is not sent on a new session.
func TestLostSessionEndsTheCall(t *testing.T) {
	n := Open(Options{Address: "127.0.0.1:1", Username: "imsentinel"})
	defer n.Close()
	s, err := mysqlsql.StopIOThread(mysqlsql.MariaDB(10, 11, 19))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.exec(context.Background(), s, 0); !errors.Is(err, ErrSessionLost) {
		t.Errorf("exec without a session: %v, want ErrSessionLost", err)
	}
	if _, err := n.query(context.Background(), "read", "SELECT 1", 0); !errors.Is(err, ErrSessionLost) {
		t.Errorf("query without a session: %v, want ErrSessionLost", err)
	}
}
