// Package mysqlnode tests the admin actions of promote/mysqlnode against
// real mariadbd processes started by test/harness: a failover's steps in
// the order of DESIGN.md §6.1 (kill other sentinels' sessions, stop the IO
// threads, fence, wait for the relay log, promote, repoint), the fence
// blocked by a semi-sync wait, waits that stall, the heartbeat, and the
// classification of a refused, hung or refusing server.
//
// It has no non-test code.
package mysqlnode
