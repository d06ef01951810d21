// Package redisnode tests the admin actions of promote/redisnode against
// real redis-server processes started by test/harness: promote, repoint,
// pause writes, kill other sentinels' sessions and clients, set the
// self-fence and heartbeat, wait for replicas, and the classification of a
// refused, hung or answering node.
//
// It has no non-test code.
package redisnode
