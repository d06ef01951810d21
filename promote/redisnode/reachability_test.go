package redisnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"
)

// timeoutErr is a net.Error that timed out, as a dial under DialTimeout
// returns.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	tests := []struct {
		name string
		err  error
		want Reachability
	}{
		{"nil", nil, Answered},
		{"dial refused", refused, Refused},
		{"dial refused, wrapped", fmt.Errorf("promote 127.0.0.1:1: replicaof no one: %w", refused), Refused},
		{"bare ECONNREFUSED", syscall.ECONNREFUSED, Refused},
		{"read deadline", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, Unreachable},
		{"dial timeout", &net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}, Unreachable},
		{"ctx deadline", fmt.Errorf("role: %w", context.DeadlineExceeded), Unreachable},
		{"ctx cancelled", context.Canceled, Unreachable},
		{"reset mid-call", &net.OpError{Op: "read", Net: "tcp", Err: &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}}, Unreachable},
		{"closed mid-call", io.EOF, Unreachable},
		{"no route", &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.EHOSTUNREACH}}, Unreachable},
		{"pool timeout", redis.ErrPoolTimeout, Unreachable},
		{"node closed", ErrClosed, Unreachable},
		{"no address", ErrNoAddress, Unreachable},
		{"error reply", redis.ErrNoScript, Failed},
		{"error reply, wrapped", fmt.Errorf("promote x: %w", redis.ErrNoScript), Failed},
		{"rewrite warning", fmt.Errorf("promote x: took effect, but %w: %w", ErrRewrite, redis.ErrNoScript), Failed},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestReachabilityString(t *testing.T) {
	for r, want := range map[Reachability]string{
		Answered: "answered", Refused: "refused", Unreachable: "unreachable", Failed: "failed", 99: "unknown",
	} {
		if got := r.String(); got != want {
			t.Errorf("Reachability(%d).String() = %q, want %q", r, got, want)
		}
	}
}

func TestNoNodeCallsWithoutAddressOrAfterClose(t *testing.T) {
	ctx := context.Background()
	n := Open(Options{Fleet: "f", Sentinel: "s"})
	if _, err := n.Role(ctx); !errors.Is(err, ErrNoAddress) {
		t.Errorf("Role without an address: %v, want ErrNoAddress", err)
	}
	// Open does no I/O, and neither does Close before the first call.
	n = Open(Options{Address: "127.0.0.1:1"})
	if err := n.Close(); err != nil {
		t.Errorf("Close before any call: %v", err)
	}
	if err := n.Unpause(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Unpause after Close: %v, want ErrClosed", err)
	}
}
