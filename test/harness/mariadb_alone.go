package harness

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// RunAlone starts the stopped server with networking off (--skip-networking
// and any extra args), so nothing that dials its address — the sentinels —
// sees it; runs f with a root session over its socket; then shuts it down
// (SIGTERM, waited). Tests use it to write on a node while it is isolated,
// as a cut-off primary would (notes/mariadb.md §4), before it returns as a
// member. The server must not be running.
func (m *MariaDB) RunAlone(t testing.TB, f func(db *sql.DB), args ...string) {
	t.Helper()
	if !m.p.exited() {
		t.Fatalf("RunAlone %s: the server still runs; stop or kill it first", m.p.name)
	}
	sock, err := m.socket()
	if err != nil {
		t.Fatalf("RunAlone: %v", err)
	}
	if err := m.p.start(append([]string{"--skip-networking"}, args...)...); err != nil {
		t.Fatalf("RunAlone: %v", err)
	}
	db, _ := sql.Open("mysql", "root@unix("+sock+")/?timeout=10s") // Open only parses the DSN
	defer db.Close()
	err = poll(StartTimeout, func() error {
		if err := m.p.errIfExited(m.LogPath); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var one int
		return db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	})
	if err != nil {
		_ = m.p.kill()
		t.Fatalf("RunAlone: wait for %s to answer on %s: %v", m.p.name, sock, err)
	}
	f(db)
	db.Close()
	if err := m.p.stop(serverStopTimeout); err != nil {
		t.Fatalf("RunAlone: %v", err)
	}
}

// socket is the server's socket path, as its my.cnf names it.
func (m *MariaDB) socket() (string, error) {
	b, err := os.ReadFile(m.ConfigPath)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", m.ConfigPath, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if s, ok := strings.CutPrefix(l, "socket="); ok {
			return s, nil
		}
	}
	return "", fmt.Errorf("%s names no socket", m.ConfigPath)
}
