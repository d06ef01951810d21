// Package gtid reads and compares the GTID values of MySQL and MariaDB, so
// that failover decisions can ask "did this replica receive everything that
// one did?" and "does this replica hold transactions no primary wrote?"
// (DESIGN.md §6.5, §6.6).
//
// # MySQL
//
// Set is a GTID set: per source UUID (and, from MySQL 8.3, per tag) a set
// of transaction numbers, written "uuid:1-5:7-9,uuid2:1-3". ParseSet reads
// @@gtid_executed, Retrieved_Gtid_Set and Executed_Gtid_Set as the prober
// collects them (probe.MySQLFacts, probe.Channel); sets form a lattice, so
// Contains, Equal, Union, Intersect and Subtract are exact, and Compare
// orders two sets by inclusion. Errant is what a replica holds from sources
// that were never a primary.
//
// # MariaDB
//
// Position is a GTID position, one "domain-server-seq" per replication
// domain (@@gtid_binlog_pos, @@gtid_slave_pos, @@gtid_current_pos,
// Gtid_IO_Pos). Positions are only partially ordered: Compare says Less,
// Equal, Greater or Incomparable (ahead in different domains, or the same
// seq from different servers). Union takes each domain's furthest entry;
// Subtract describes what another position lacks as sequence ranges;
// Origins lists the server ids. State is a binlog state
// (@@gtid_binlog_state), which keeps the last seq per domain and server id:
// Errant lists entries from servers that were never a primary, and
// Subtract compares a returning old primary with the new one.
//
// # Inputs and outputs
//
// Strings in, values out. Every value type is immutable (methods return new
// values), has a canonical String that its Parse function reads back, and
// marshals as that text. Parse errors are *ParseError, naming the value,
// the offending piece, its byte offset and the reason. The package reads
// no clock, does no I/O and does not log.
//
// # What it does not do
//
// It does not rank replicas or decide a failover (package promote does),
// query a server (package probe does), or convert between the two GTID
// systems (a MariaDB replica of a MySQL primary is out of scope). It cannot
// see divergence that GTIDs do not show: a GTID re-used with other content
// after a binlog was truncated (notes/mariadb.md gotcha 7), or a write on a
// server that was once a primary and still carries its identity (checked
// instead by comparing with the current primary, §6.6).
//
// # Facts it relies on
//
//   - MySQL GTID set text (mysql-server sql/rpl_gtid_set.cc add_gtid_text,
//     to_string): whitespace is skipped around tokens; empty elements
//     between commas are allowed; intervals are "N" or "N-M" separated by
//     ':'; numbers are read with strtoll base 0 and must be 1 … LLONG_MAX−1
//     (MaxGNO); an interval with end < start is silently ignored (refused
//     here); sources are printed sorted by UUID bytes with ",\n" between
//     them; intervals are merged when they touch. UUIDs in a set use only
//     the 36-character dashed form and print in lowercase
//     (libbinlogevents uuid.cpp Uuid::to_string).
//   - MySQL 8.3+ tags (WL#15294; MySQL source docs tag_max_length = 32):
//     "uuid:tag:N"; up to 32 characters of letters, digits and '_',
//     starting with a letter or '_'; case-insensitive, normalised to
//     lowercase; a set prints untagged intervals first, then each tag with
//     its intervals ("uuid:1-4:aaaa:1:abc:1-3", server output quoted in
//     go-mysql's tag-support change). Not run against a MySQL server here
//     (none on this machine).
//   - MariaDB GTIDs (MariaDB server sql/rpl_gtid.cc gtid_parser_helper,
//     rpl_binlog_state): domain and server id are 32-bit, seq is 64-bit;
//     lists are "d-s-n" joined by "," with no spaces, sorted by domain
//     (MDEV-4987); a new transaction takes the domain's counter + 1
//     whichever server writes it, so seqs order a domain, not a server;
//     gtid_binlog_state keeps one entry per (domain, server) and writes
//     the domain's most recent last (the printed list is only sorted by
//     domain); gtid_strict_mode refuses a seq not above the domain's last;
//     a new domain starts at seq 1, so a seq-0 entry names nothing and
//     Parse drops it.
//   - Errant on MariaDB is visible in gtid_binlog_state ("0-1-9572" on the
//     old primary against "0-1-9566,0-2-18962" on the new one), measured
//     here: notes/mariadb.md §4.
//
// # Why our own code
//
// notes/libs.md names no GTID library for the daemon: vitess's replication
// package "pulls grpc and registers global flags" (allowed only as a
// test-only oracle). github.com/go-mysql-org/go-mysql's mysql.GTIDSet
// brings its module's requirements (its go.mod lists pingcap/errors, the
// pingcap/TiDB SQL parser, siddontang/go-log and, indirectly, zap), and in
// the version read its MariaDB model does not fit failover:
// MariadbGTIDSet.Contain requires the same (domain, server) entries, so a
// position after a failover ("0-2-110") does not contain one from before
// it ("0-1-100"); positions have no partial order, Union or Subtract; and
// the set type logs (slog.Warn) on an out-of-order GTID.
// The algebra needed here is about 900 lines of code with property and
// fuzz tests, and keeps go.mod as it is.
package gtid
