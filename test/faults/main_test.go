// Package faults holds the end-to-end tests of fault injection
// (DESIGN.md §8): real imsentinel processes built with -tags faults, cut off
// from the fleet through their fault control file (harness.Sentinel.SetFaults),
// and from a Redis primary through an in-process TCP proxy per sentinel
// (harness.StartProxy and the cluster's address_map).
package faults

import (
	"testing"

	"github.com/imsentinel/imsentinel/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
