// Package daemon holds the end-to-end tests of the imsentinel daemon as a
// process: real redis-server and mariadbd topologies, a real imsentinel
// binary, its admin API and its exit codes.
package daemon

import (
	"testing"

	"github.com/imsentinel/imsentinel/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
