// Package cpuprofile lets a command write a CPU profile of its whole run when the environment
// asks for it (ONCOFED_CPUPROFILE=DIR), so that the processes of a network — the hub, each
// oncofed-node serve, each oncofed-cli — can be profiled as a deployment runs them (the bench
// harness's cli section does, with BENCH_CLI_PROFILE). Without the variable it does nothing.
package cpuprofile

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// Env names the directory the profiles are written to.
const Env = "ONCOFED_CPUPROFILE"

// Start begins profiling into DIR/NAME-PID.pprof when Env is set and returns the function that
// stops it and closes the file (a no-op otherwise). A profile that cannot be started is
// reported on stderr and the command runs unprofiled.
func Start(name string) (stop func()) {
	dir := os.Getenv(Env)
	if dir == "" {
		return func() {}
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", name, os.Getpid()))
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v (running unprofiled)\n", Env, err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v (running unprofiled)\n", Env, err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
