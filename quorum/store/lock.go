package store

import (
	"os"
	"strconv"
	"strings"
)

// The lock itself is bbolt's: an exclusive flock(2) on state.db, held for as
// long as the file is open and dropped by the kernel when the process dies.
// flock locks belong to an open file description, so a second Open in the
// same process is refused like one from another process.
//
// The pid file only names the holder in the ErrLocked message. It is written
// after the lock is taken and removed by Close; after a crash it stays behind
// and is overwritten by the next Open.

// writePID records this process as the holder. Best effort: a failure only
// makes a later ErrLocked message say "pid unknown".
func writePID(path string) {
	_ = os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
}

// holder describes the process named by the pid file, for the ErrLocked
// message.
func holder(path string) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "pid unknown"
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 0 {
		return "pid unknown"
	}
	return "pid " + strconv.Itoa(pid)
}
