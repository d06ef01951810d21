package redisnode

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestPollUntil(t *testing.T) {
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}

	t.Run("done on the third poll, timeouts retried", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			start, calls := time.Now(), 0
			err := pollUntil(context.Background(), time.Second, func() (bool, error) {
				calls++
				if calls == 1 {
					return false, timeout
				}
				return calls == 3, nil
			})
			if err != nil || calls != 3 {
				t.Errorf("pollUntil = %v after %d calls, want nil after 3", err, calls)
			}
			if got := time.Since(start); got != 2*time.Second {
				t.Errorf("pollUntil took %v, want 2 polls of 1s", got)
			}
		})
	})
	t.Run("refused and error replies end it at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			for _, want := range []error{refused, redis.ErrNoScript} {
				calls := 0
				err := pollUntil(context.Background(), time.Second, func() (bool, error) { calls++; return false, want })
				if !errors.Is(err, want) || calls != 1 {
					t.Errorf("pollUntil = %v after %d calls, want %v after 1", err, calls, want)
				}
			}
		})
	})
	t.Run("ctx ends: its error with the last one", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
			defer cancel()
			calls := 0
			err := pollUntil(ctx, time.Second, func() (bool, error) { calls++; return false, timeout })
			if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, os.ErrDeadlineExceeded) || calls != 3 {
				t.Errorf("pollUntil = %v after %d calls, want the ctx deadline and the last timeout after 3", err, calls)
			}
			if Classify(err) != Unreachable {
				t.Errorf("Classify(%v) = %v, want unreachable", err, Classify(err))
			}
		})
	})
	t.Run("zero interval is DefaultPoll", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			start, calls := time.Now(), 0
			_ = pollUntil(context.Background(), 0, func() (bool, error) { calls++; return calls == 2, nil })
			if got := time.Since(start); got != DefaultPoll {
				t.Errorf("one poll with interval 0 took %v, want %v", got, DefaultPoll)
			}
		})
	})
}

func TestNoConfigFile(t *testing.T) {
	// A redis.Error with the server's words: ErrNoScript is the only
	// exported reply value, so build the reply through a test type.
	if !noConfigFile(replyErr("ERR The server is running without a config file")) {
		t.Error("noConfigFile(ERR The server is running without a config file) = false")
	}
	for _, err := range []error{replyErr("NOPERM this user has no permissions to run the 'config|rewrite' command"),
		errors.New("running without a config file")} { // not a reply: not the server saying so
		if noConfigFile(err) {
			t.Errorf("noConfigFile(%v) = true", err)
		}
	}
}

// replyErr is an error reply (it implements redis.Error).
type replyErr string

func (e replyErr) Error() string { return string(e) }
func (replyErr) RedisError()     {}
