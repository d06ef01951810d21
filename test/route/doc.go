// Package route tests the routing writer (promote/route) against a real
// redis-server started by test/harness: the compare-and-set rules of
// DESIGN.md §6.7, the announcement on <prefix>routes (published exactly
// when written), concurrent writers, a wiped routing Redis repaired by
// reconcile, and a routing Redis that hangs or is down.
//
// It has no non-test code.
package route
