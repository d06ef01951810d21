package gtid_test

import (
	"fmt"

	"github.com/imsentinel/imsentinel/promote/gtid"
)

// MySQL: which replica received everything the other did, and is anything
// on it written by a server that was never a primary?
func ExampleSet() {
	// Retrieved_Gtid_Set of two replicas after the primary 3e11… died; the
	// first also holds a transaction written on itself (73f8…).
	r1, err := gtid.ParseSet("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-120,\n73f86016-978b-11ea-91ed-0242ac110002:1")
	if err != nil {
		fmt.Println(err)
		return
	}
	r2, _ := gtid.ParseSet("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-100:102")
	fmt.Println(r1)
	fmt.Println("r1 vs r2:", r1.Compare(r2))
	fmt.Println("r2 lacks:", r1.Subtract(r2))

	primary, _ := gtid.ParseUUID("3e11fa47-71ca-11e1-9e33-c80aa9429562")
	fmt.Println("errant on r1:", r1.Errant([]gtid.UUID{primary}))

	_, err = gtid.ParseSet("3e11fa47-71ca-11e1-9e33-c80aa9429562:5-3")
	fmt.Println(err)
	// Output:
	// 3e11fa47-71ca-11e1-9e33-c80aa9429562:1-120,73f86016-978b-11ea-91ed-0242ac110002:1
	// r1 vs r2: greater
	// r2 lacks: 3e11fa47-71ca-11e1-9e33-c80aa9429562:101:103-120,73f86016-978b-11ea-91ed-0242ac110002:1
	// errant on r1: 73f86016-978b-11ea-91ed-0242ac110002:1
	// parse MySQL GTID set "3e11fa47-71ca-11e1-9e33-c80aa9429562:5-3": interval "5-3" at byte 37 of source 3e11fa47-71ca-11e1-9e33-c80aa9429562: end before start
}

// MariaDB: positions are partially ordered across domains; the binlog
// state shows which server wrote what.
func ExamplePosition() {
	// Gtid_IO_Pos of three replicas.
	a, _ := gtid.ParsePosition("0-1-120,1-2-50")
	b, _ := gtid.ParsePosition("0-1-100,1-2-50")
	c, _ := gtid.ParsePosition("1-2-60,0-1-90")
	fmt.Println("a vs b:", a.Compare(b))
	fmt.Println("a vs c:", a.Compare(c))
	fmt.Println("b lacks of a:", a.Subtract(b))
	fmt.Println("union:", a.Union(c), "origins:", a.Union(c).Origins())

	// gtid_binlog_state of a replica on which server 3 wrote locally.
	st, _ := gtid.ParseState("0-1-3,0-3-4")
	fmt.Println("errant:", st.Errant([]uint32{1}))

	// A returning old primary against the new primary (DESIGN.md §6.6).
	old, _ := gtid.ParseState("0-1-9572")
	cur, _ := gtid.ParseState("0-1-9566,0-2-18962")
	fmt.Println("returning:", old.Subtract(cur))
	// Output:
	// a vs b: greater
	// a vs c: incomparable
	// b lacks of a: [domain 0 seqs 101-120 (last from server 1)]
	// union: 0-1-120,1-2-60 origins: [1 2]
	// errant: [0-3-4]
	// returning: [domain 0 seqs 9567-9572 (last from server 1)]
}
