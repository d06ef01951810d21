package mysqlnode

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/imsentinel/imsentinel/probe"
)

func TestStalled(t *testing.T) {
	running := func(applied string) applier {
		return applier{applied: applied, ok: true, channel: Channel{Channel: probe.Channel{IO: probe.IOStopped, SQLRunning: true},
			SQLState: "Waiting for table metadata lock"}}
	}
	stopped := running("0-1-5")
	stopped.channel.SQLRunning = false
	failed := stopped
	failed.channel.LastSQLErrno, failed.channel.LastSQLError = 1062, "Duplicate entry '100' for key 'PRIMARY'"
	tests := []struct {
		name        string
		before, now applier
		watching    bool
		want        string // "" = no error; else a substring of the ErrStalled error
	}{
		{"advanced", running("0-1-5"), running("0-1-6"), true, ""},
		{"did not advance", running("0-1-5"), running("0-1-5"), true, "applied nothing in 1s"},
		{"did not advance, state named", running("0-1-5"), running("0-1-5"), true, "Waiting for table metadata lock"},
		{"not watching (stopped at the start, started since)", stopped, running("0-1-5"), false, ""},
		{"stopped", running("0-1-5"), stopped, true, "SQL thread stopped (applied"},
		{"stopped with an error", running("0-1-4"), failed, true, "error 1062: Duplicate entry"},
		{"stopped at the start", stopped, stopped, false, "SQL thread stopped"},
		{"no channel", running("0-1-5"), applier{applied: "0-1-5"}, true, "no replication channel"},
	}
	for _, tt := range tests {
		err := stalled(tt.before, tt.now, time.Second, tt.watching)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: stalled = %v, want nil", tt.name, err)
		case tt.want != "" && (!errors.Is(err, ErrStalled) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: stalled = %v, want ErrStalled saying %q", tt.name, err, tt.want)
		}
	}
}

func TestOneValue(t *testing.T) {
	if v, null, err := oneValue([]row{{"MASTER_GTID_WAIT('0-1-5', 1)": "-1"}}); v != "-1" || null || err != nil {
		t.Errorf("oneValue(-1) = %q, %v, %v", v, null, err)
	}
	if _, null, err := oneValue([]row{{}}); !null || err != nil {
		t.Errorf("oneValue(NULL) null=%v err=%v, want null", null, err)
	}
	for _, rows := range [][]row{nil, {{"a": "1"}, {"a": "2"}}, {{"a": "1", "b": "2"}}} {
		if _, _, err := oneValue(rows); err == nil {
			t.Errorf("oneValue(%v): no error", rows)
		}
	}
}

func TestPollUntil(t *testing.T) {
	t.Run("done on the third poll", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			start, calls := time.Now(), 0
			err := pollUntil(context.Background(), time.Second, func() (bool, error) { calls++; return calls == 3, nil })
			if err != nil || calls != 3 || time.Since(start) != 2*time.Second {
				t.Errorf("pollUntil = %v after %d calls in %v, want nil after 3 in 2s", err, calls, time.Since(start))
			}
		})
	})
	t.Run("an error ends it at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			boom, calls := errors.New("boom"), 0
			if err := pollUntil(context.Background(), time.Second, func() (bool, error) { calls++; return false, boom }); !errors.Is(err, boom) || calls != 1 {
				t.Errorf("pollUntil = %v after %d calls, want boom after 1", err, calls)
			}
		})
	})
	t.Run("ctx ends", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
			defer cancel()
			calls := 0
			err := pollUntil(ctx, time.Second, func() (bool, error) { calls++; return false, nil })
			if !errors.Is(err, context.DeadlineExceeded) || calls != 3 {
				t.Errorf("pollUntil = %v after %d calls, want the deadline after 3", err, calls)
			}
		})
	})
}

func TestReplicating(t *testing.T) {
	ch := func(io probe.IOThread, sql bool, ioErr, sqlErr int) Channel {
		return Channel{Channel: probe.Channel{IO: io, SQLRunning: sql, LastIOErrno: ioErr, LastIOError: "io error text",
			LastSQLErrno: sqlErr, LastSQLError: "sql error text"}}
	}
	tests := []struct {
		name    string
		c       Channel
		done    bool
		errText string // "" = no error
	}{
		{"both running", ch(probe.IORunning, true, 0, 0), true, ""},
		{"connecting", ch(probe.IOConnecting, true, 0, 0), false, ""},
		{"SQL not yet running", ch(probe.IORunning, false, 0, 0), false, ""},
		{"source unreachable", ch(probe.IOConnecting, true, 2003, 0), false, "IO thread error 2003: io error text"},
		{"source lacks the GTIDs", ch(probe.IOStopped, true, 1236, 0), false, "IO thread error 1236"},
		{"applier failed", ch(probe.IORunning, false, 0, 1062), false, "SQL thread error 1062: sql error text"},
	}
	for _, tt := range tests {
		done, err := replicating(tt.c)
		switch {
		case tt.errText == "" && (err != nil || done != tt.done):
			t.Errorf("%s: replicating = %v, %v; want %v, nil", tt.name, done, err, tt.done)
		case tt.errText != "" && (!errors.Is(err, ErrReplication) || !strings.Contains(err.Error(), tt.errText)):
			t.Errorf("%s: replicating = %v, %v; want ErrReplication saying %q", tt.name, done, err, tt.errText)
		}
	}
}
