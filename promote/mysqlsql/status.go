package mysqlsql

// ReplicaStatus reads every replication channel: SHOW ALL SLAVES STATUS on
// MariaDB (every connection, named or not), SHOW REPLICA STATUS on MySQL
// 8.0.22+ (Replica_/Source_ columns), SHOW SLAVE STATUS before (8.4 removed
// it). The same statements package probe/mysqlprobe sends.
func ReplicaStatus(f Flavor) (Stmt, error) {
	if _, err := begin("read the replication status", f); err != nil {
		return Stmt{}, err
	}
	why := "read the replication channels"
	switch {
	case f.mariadb():
		return stmt("SHOW ALL SLAVES STATUS", why), nil
	case f.replicaKeywords():
		return stmt("SHOW REPLICA STATUS", why), nil
	}
	return stmt("SHOW SLAVE STATUS", why), nil
}

// BinaryLogStatus reads the binary log's current file and position (and on
// MySQL Executed_Gtid_Set): SHOW MASTER STATUS on MariaDB (SHOW BINLOG
// STATUS is its synonym from 10.5.2) and MySQL before 8.2.0; SHOW BINARY
// LOG STATUS from MySQL 8.2.0, which added it (8.4 removed SHOW MASTER
// STATUS).
func BinaryLogStatus(f Flavor) (Stmt, error) {
	if _, err := begin("read the binary log status", f); err != nil {
		return Stmt{}, err
	}
	why := "read the binary log position"
	if f.binaryLogStatus() {
		return stmt("SHOW BINARY LOG STATUS", why), nil
	}
	return stmt("SHOW MASTER STATUS", why), nil
}

// GTIDPosition reads what a primary has written, for WaitApplied on the
// switchover target (notes/mariadb.md §5, planned switchover step 3):
// @@GLOBAL.gtid_binlog_pos on MariaDB (the last GTID per domain in the
// binary log), @@GLOBAL.gtid_executed on MySQL. One column, named
// gtid_position.
func GTIDPosition(f Flavor) (Stmt, error) {
	if _, err := begin("read the GTID position", f); err != nil {
		return Stmt{}, err
	}
	v := "gtid_executed"
	if f.mariadb() {
		v = "gtid_binlog_pos"
	}
	return stmt("SELECT @@GLOBAL."+v+" AS gtid_position", "read what the old primary has written"), nil
}

// SemiSyncVariables lists the semi-sync variables (Variable_name, Value);
// SemiSyncNamesOf tells the naming from their names. The same query
// package probe/mysqlprobe sends.
func SemiSyncVariables(f Flavor) (Stmt, error) {
	if _, err := begin("read the semi-sync variables", f); err != nil {
		return Stmt{}, err
	}
	return stmt("SHOW GLOBAL VARIABLES LIKE 'rpl_semi_sync%'", "which semi-sync plugin names the server has"), nil
}
