// Package agreement holds the end-to-end tests of the fleet's agreement
// (DESIGN.md §5): real imsentinel processes over real memberlist on
// loopback, watching real Redis servers.
package agreement

import (
	"testing"

	"github.com/imsentinel/imsentinel/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
