// Package buildinfo carries the version and commit both binaries report.
// The Makefile sets them at link time:
//
//	-ldflags "-X github.com/imsentinel/imsentinel/sentinel/buildinfo.version=v0.1.0
//	          -X github.com/imsentinel/imsentinel/sentinel/buildinfo.commit=abc1234"
//
// They are written only by the linker, never at run time.
package buildinfo

import "runtime"

var (
	version = "dev"
	commit  = "unknown"
)

// Version is the release version, "dev" for an unreleased build.
func Version() string { return version }

// Commit is the git commit the binary was built from.
func Commit() string { return commit }

// String is the one line both binaries print for --version.
func String(program string) string {
	return program + " " + version + " (commit " + commit + ", " + runtime.Version() + ")"
}
