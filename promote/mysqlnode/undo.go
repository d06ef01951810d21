package mysqlnode

import (
	"context"
	"fmt"

	"github.com/imsentinel/imsentinel/promote/mysqlsql"
)

// StartIOThread starts the replica's receiver again (START SLAVE
// IO_THREAD / START REPLICA IO_THREAD), leaving its applier as it is: the
// undo of StopIOThread when a failover gives up before promoting anyone,
// so the old primary's replicas acknowledge for it again (DESIGN.md §6.1).
// A receiver that already runs is left running.
func (n *Node) StartIOThread(ctx context.Context) error {
	err := n.run(ctx, func(f mysqlsql.Flavor) ([]mysqlsql.Stmt, error) {
		s, err := mysqlsql.StartIOThread(f)
		return []mysqlsql.Stmt{s}, err
	})
	if err != nil {
		return fmt.Errorf("start the IO thread of %s: %w", n.o.Address, err)
	}
	return nil
}

// Unfence makes the node accept writes again (read_only=OFF; on MySQL
// super_read_only=OFF first) and reads read_only back: still ON is an
// error wrapping ErrReadOnly. Only for the node that is the primary: the
// undo of a failover's Fence when the failover gave up before promoting
// anyone, or an operator's unfence of the committed primary.
func (n *Node) Unfence(ctx context.Context) error {
	if err := n.unfence(ctx); err != nil {
		return fmt.Errorf("unfence %s: %w", n.o.Address, err)
	}
	return nil
}

func (n *Node) unfence(ctx context.Context) error {
	if err := n.run(ctx, mysqlsql.Unfence); err != nil {
		return err
	}
	p, err := n.position(ctx, false)
	if err != nil {
		return fmt.Errorf("read read_only back: %w", err)
	}
	if p.ReadOnly || p.SuperReadOnly {
		return fmt.Errorf("read_only=%t super_read_only=%t after read_only=OFF: %w", p.ReadOnly, p.SuperReadOnly, ErrReadOnly)
	}
	return nil
}
