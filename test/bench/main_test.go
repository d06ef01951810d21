// Package bench measures imsentinel side by side with Redis Sentinel in
// the same run on the same machine (DESIGN.md §8: benchmarks are
// benchmarks, reported as ratios against Redis Sentinel). Three benchmarks:
//
//   - BenchmarkDetection: from a dead primary to an elected failover leader
//     (detection_test.go), in the ci and lan profiles;
//   - BenchmarkFailover: from a fault of the primary (kill -9, SIGSTOP) to
//     the route written and clients writing on the new primary, with the
//     acknowledged writes lost (failover_test.go), in the ci profile;
//   - BenchmarkMySQLFailover: kill -9 of a semi-sync MariaDB primary to the
//     route written and the application inserting on the promoted replica,
//     with the acknowledged inserts lost (mysql_test.go), in the ci
//     profile. There is no Redis Sentinel for MySQL: it reports imsentinel
//     alone, against issue 6's targets.
//
// They assert nothing about durations: they fail only when something
// breaks (a process that will not start, a trial without an election) or,
// for MySQL, when an acknowledged insert is lost (a safety property).
//
// Run them with `make bench` (all three; BENCH=Detection,
// BENCH=^BenchmarkFailover or BENCH=MySQLFailover for one: BENCH is a
// regexp, and "Failover" matches both failover benchmarks), or:
//
//	go test -run '^$' -bench MySQLFailover -benchtime 1x -timeout 60m ./test/bench/
//
// Each benchmark function is only a driver: it runs once (-benchtime 1x)
// and runs its trials itself (BENCH_TRIALS, BENCH_FAILOVER_TRIALS,
// BENCH_MYSQL_TRIALS), so b.N means nothing here and ns/op is suppressed.
// `go test ./test/bench` without -bench runs only the log parsers' and the
// analyses' unit tests.
package bench

import (
	"testing"

	"github.com/imsentinel/imsentinel/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
