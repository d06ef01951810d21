//go:build !faults

package sentinel

import (
	"log/slog"
	"time"

	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/quorum/transport"
)

// The production build has no fault injection: these hooks are inlined to
// nothing, read no environment variable and no file. faults_on.go (build
// tag faults) is the test build's version; see its comments.

// faultTransport returns t itself.
func faultTransport(t transport.Transport, _ *slog.Logger) transport.Transport { return t }

// faultDropTo is always false: every message goes out.
func faultDropTo(quorum.MemberID) bool { return false }

// faultWithholdState is always false: the push/pull state is offered.
func faultWithholdState() bool { return false }

// wallNow is time.Now().
func wallNow() time.Time { return time.Now() }
