// Package bench measures how fast imsentinel goes from a dead primary to an
// elected failover leader, side by side with Redis Sentinel in the same run
// on the same machine (DESIGN.md §8: benchmarks are benchmarks, reported as
// ratios against Redis Sentinel). It asserts nothing about durations: it
// fails only when something breaks (a process that will not start, a trial
// without an election).
//
// Run it with `make bench`, or:
//
//	go test -run '^$' -bench Failover -benchtime 1x -timeout 30m ./test/bench/
//
// The benchmark function is only a driver: it runs once (-benchtime 1x) and
// runs BENCH_TRIALS trials per system itself, so b.N means nothing here and
// ns/op is suppressed. See failover_test.go for what a trial measures and how.
package bench

import (
	"testing"

	"github.com/imsentinel/imsentinel/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
