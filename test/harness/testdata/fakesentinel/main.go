// Command fakesentinel stands in for imsentinel in the harness's own tests of
// StartSentinel (the harness must not depend on the daemon being built). It
// logs its arguments, then waits for SIGTERM and exits 0; with
// FAKE_IGNORE_TERM=1 it ignores SIGTERM; with FAKE_EXIT=N it exits N at once.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	// Signal handling first: "started" tells the test SIGTERM is handled.
	term := make(chan os.Signal, 1)
	if os.Getenv("FAKE_IGNORE_TERM") == "1" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(term, syscall.SIGTERM)
	}
	fmt.Printf("fakesentinel started args=%q cwd=%s\n", os.Args[1:], must(os.Getwd()))
	if n, err := strconv.Atoi(os.Getenv("FAKE_EXIT")); err == nil {
		fmt.Fprintf(os.Stderr, "fakesentinel exiting %d\n", n)
		os.Exit(n)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	for i := 0; ; i++ {
		select {
		case <-term:
			fmt.Println("fakesentinel got SIGTERM, exiting")
			return
		case <-tick.C:
			fmt.Printf("tick %d\n", i)
		}
	}
}

func must(s string, err error) string {
	if err != nil {
		return err.Error()
	}
	return s
}
