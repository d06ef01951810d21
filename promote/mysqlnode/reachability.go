package mysqlnode

import (
	"errors"
	"syscall"

	"github.com/go-sql-driver/mysql"

	"github.com/imsentinel/imsentinel/promote/redisnode"
)

// Reachability is redisnode's: the executor's fence wait (DESIGN.md §6.3)
// reads one type for both kinds of node.
type Reachability = redisnode.Reachability

// The outcomes of a call; see redisnode.Reachability.
const (
	Answered    = redisnode.Answered
	Refused     = redisnode.Refused
	Unreachable = redisnode.Unreachable
	Failed      = redisnode.Failed
)

// Classify says what err tells about the node: nil is Answered; an error
// the server sent (*mysql.MySQLError: a refused statement, a denied login,
// a lock wait timeout) or one of this package's errors that report what the
// server answered (ErrStalled, ErrReplication, ErrNotReplicating,
// ErrReadOnly) is Failed; a refused connection (ECONNREFUSED) is Refused;
// anything else is Unreachable, the conservative answer: a timeout, a
// connection reset or closed mid-call (the driver's "invalid connection"),
// a cancelled ctx, an error before any I/O (ErrClosed, ErrNoAddress,
// mysqlsql.ErrInvalid). The node may then still be alive and accept writes.
// It never claims a refusal or an answer it did not see.
func Classify(err error) Reachability {
	var serverErr *mysql.MySQLError
	switch {
	case err == nil:
		return Answered
	case errors.As(err, &serverErr),
		errors.Is(err, ErrStalled), errors.Is(err, ErrReplication),
		errors.Is(err, ErrNotReplicating), errors.Is(err, ErrReadOnly):
		return Failed
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	default:
		return Unreachable
	}
}
