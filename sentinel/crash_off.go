//go:build !faults

package sentinel

// faultCrashAfter is a no-op outside the fault-injection build
// (crash_on.go).
func faultCrashAfter(string) {}
