package redisnode

import (
	"errors"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// Reachability classifies the outcome of a call, so that a strict fence
// wait can tell "the process is gone" from "cut off" (DESIGN.md §6.3).
type Reachability uint8

const (
	// Answered: the call succeeded.
	Answered Reachability = iota
	// Refused: the connection was refused (ECONNREFUSED): nothing listens
	// on the port, so the process is gone (or not yet back).
	Refused
	// Unreachable: no answer: a timeout (the node hangs, or the network
	// drops packets), no route, a connection reset or closed mid-call, a
	// cancelled ctx, or an error before any I/O. The node may be alive.
	Unreachable
	// Failed: the node answered with an error reply (e.g. -NOPERM,
	// -WRONGPASS, -LOADING).
	Failed
)

// Classify says what err tells about the node: nil is Answered; an error
// reply from the server is Failed; a refused connection is Refused;
// anything else is Unreachable, the conservative answer (the node may still
// be alive and accept writes). It never claims a refusal or an answer it
// did not see.
func Classify(err error) Reachability {
	var reply redis.Error
	switch {
	case err == nil:
		return Answered
	case errors.As(err, &reply):
		return Failed
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	default:
		return Unreachable
	}
}

func (r Reachability) String() string {
	switch r {
	case Answered:
		return "answered"
	case Refused:
		return "refused"
	case Unreachable:
		return "unreachable"
	case Failed:
		return "failed"
	default:
		return "unknown"
	}
}
