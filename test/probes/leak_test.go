package probes

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/probe/mysqlprobe"
	"github.com/imsentinel/imsentinel/probe/redisprobe"
	"github.com/imsentinel/imsentinel/test/harness"
)

// TestProbersLeaveNoGoroutines: after Close, nothing a prober started (pool
// goroutines of go-redis and database/sql) is left running.
func TestProbersLeaveNoGoroutines(t *testing.T) {
	harness.Require(t, "redis-server", "mariadbd", "mariadb-install-db")
	r := harness.StartRedis(t, harness.RedisOptions{})
	m := harness.StartMariaDB(t, 1, harness.MariaDBOptions{})
	before := runtime.NumGoroutine()

	ps := []probe.Prober{
		redisprobe.New(probe.Target{Address: r.Addr, Timeout: probeTimeout}),
		mysqlprobe.New(probe.Target{Address: m.Addr, Timeout: probeTimeout,
			Username: harness.MariaDBAdminUser, Password: harness.MariaDBAdminPassword}),
	}
	for _, p := range ps {
		for range 3 {
			if obs := probeOnce(p); !obs.Reachable || obs.Error != "" {
				t.Fatalf("probe: %s", show(obs))
			}
		}
	}
	for _, p := range ps {
		if err := p.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	harness.Eventually(t, waitTimeout, "goroutines back to the count before the probers", func() error {
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			return fmt.Errorf("%d goroutines, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
		return nil
	})
}
