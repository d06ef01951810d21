// Package harness starts real redis-server, mariadbd and imsentinel processes
// for end-to-end tests (DESIGN.md §8). Nothing here mocks a server.
//
// Every process is an exec.Cmd the harness starts itself, on a free loopback
// port, in a directory from t.TempDir(). A goroutine per process calls Wait(),
// so exits are noticed at once (never kill -0 on a zombie: notes/mariadb.md
// gotcha 14). Children get Pdeathsig=SIGKILL, so they die with the test
// binary, and t.Cleanup stops each one by its own PID, also when the test
// fails or panics. When a test failed, the cleanup logs the tail of every
// server and sentinel log it started.
//
// Inputs: testing.TB, options structs with only what a test varies.
// Outputs: handles with addresses, PIDs and fault injection (Kill, Stop,
// Restart, Pause, Resume). The harness never decides anything about failover;
// it only sets servers up in a known state and tears them down.
//
// Process-wide state (one temp dir holding the MariaDB template datadir and
// built binaries, and a registry of running children) is removed by Main,
// which a package's TestMain must call:
//
//	func TestMain(m *testing.M) { harness.Main(m) }
//
// Nothing is shared between test processes (go test runs packages in
// parallel) except the read-only server binaries.
package harness
