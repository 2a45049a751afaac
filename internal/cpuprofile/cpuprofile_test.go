package cpuprofile

import (
	"os"
	"path/filepath"
	"testing"
)

// With ONCOFED_CPUPROFILE set, Start writes a CPU profile named after the command and the
// process into that directory; without it, nothing.
func TestStart(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(Env, "")
	Start("quiet")()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("unset: %d files written", len(entries))
	}
	t.Setenv(Env, dir)
	stop := Start("cmd")
	x := 0.0
	for i := 0; i < 1e6; i++ {
		x += float64(i)
	}
	_ = x
	stop()
	matches, _ := filepath.Glob(filepath.Join(dir, "cmd-*.pprof"))
	if len(matches) != 1 {
		t.Fatalf("profiles written: %v", matches)
	}
	if fi, err := os.Stat(matches[0]); err != nil || fi.Size() == 0 {
		t.Fatalf("profile %s: %v", matches[0], err)
	}
}
