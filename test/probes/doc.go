// Package probes tests the Redis and MariaDB probers (probe/redisprobe,
// probe/mysqlprobe) against real redis-server and mariadbd processes started
// by test/harness, in every role a prober must recognise: primary, healthy
// replica, replica with a stopped or failing link, a node that refuses
// connections, and a node that hangs (SIGSTOP).
//
// It has no non-test code.
package probes
