package tests

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"flashsale/internal/testutil/rie"
)

// Bootstrap size limits (bytes), built for the host's architecture with the
// template's flags: the exactly-once issue's budgets, with the DynamoDB
// client in both functions (measured: processor 7.9 MB arm64, 8.5 MB
// x86_64; API 9.1 MB arm64, 9.7 MB x86_64).
const (
	maxProcessorBytes = 11_000_000
	maxAPIBytes       = 12_000_000
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  string
)

// bootstraps builds, once per test binary, the two functions through their
// Makefile targets and the hello-world baseline with the same flags, all for
// the host's architecture, and returns their paths by name (api, processor,
// hello).
func bootstraps(t *testing.T) map[string]string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := binaryTempDir("flashsale-bootstraps-")
		if err != nil {
			buildErr = err.Error()
			return
		}
		buildDir = dir
		for name, target := range map[string]string{"api": "build-ApiFunction", "processor": "build-ProcessorFunction"} {
			cmd := exec.Command("make", "--no-print-directory", target,
				"ARTIFACTS_DIR="+filepath.Join(dir, name), "LAMBDA_GOARCH="+runtime.GOARCH)
			cmd.Dir = repoRoot
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = "make " + target + ": " + err.Error() + "\n" + string(out)
				return
			}
		}
		args := append([]string{"build"}, rie.BuildFlags...)
		args = append(args, "-o", filepath.Join(dir, "hello", "bootstrap"), "./tests/testdata/hello")
		cmd := exec.Command("go", args...)
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = "build hello: " + err.Error() + "\n" + string(out)
		}
	})
	if buildErr != "" {
		t.Fatal(buildErr)
	}
	return map[string]string{
		"api":       filepath.Join(buildDir, "api", "bootstrap"),
		"processor": filepath.Join(buildDir, "processor", "bootstrap"),
		"hello":     filepath.Join(buildDir, "hello", "bootstrap"),
	}
}

// tempDirs are the directories of the builds that the tests of this binary
// share, removed by TestMain.
var tempDirs struct {
	sync.Mutex
	dirs []string
}

// binaryTempDir makes a directory that lives until the test binary ends.
func binaryTempDir(pattern string) (string, error) {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", err
	}
	tempDirs.Lock()
	tempDirs.dirs = append(tempDirs.dirs, dir)
	tempDirs.Unlock()
	return dir, nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	tempDirs.Lock()
	for _, dir := range tempDirs.dirs {
		os.RemoveAll(dir)
	}
	tempDirs.Unlock()
	os.Exit(code)
}

// checkELF checks that path is a static Linux executable for goarch.
func checkELF(t *testing.T, path, goarch string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	want := map[string]elf.Machine{"arm64": elf.EM_AARCH64, "amd64": elf.EM_X86_64}[goarch]
	if f.Machine != want {
		t.Errorf("%s: machine %v, want %v (%s)", path, f.Machine, want, goarch)
	}
	if f.Type != elf.ET_EXEC {
		t.Errorf("%s: ELF type %v, want an executable", path, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s: dynamically linked; bootstraps are built with CGO_ENABLED=0", path)
		}
	}
	if s := f.Section(".symtab"); s != nil {
		t.Errorf("%s: has a symbol table; bootstraps are built with -ldflags \"-s -w\"", path)
	}
}

func TestBootstrapSizes(t *testing.T) {
	b := bootstraps(t)
	tests := []struct {
		name string
		max  int64
	}{
		{"processor", maxProcessorBytes},
		{"api", maxAPIBytes},
	}
	hello, err := os.Stat(b["hello"])
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		st, err := os.Stat(b[tt.name])
		if err != nil {
			t.Fatal(err)
		}
		checkELF(t, b[tt.name], runtime.GOARCH)
		t.Logf("%-9s bootstrap %6.2f MB (limit %5.2f MB; hello-world %5.2f MB)", tt.name,
			float64(st.Size())/1e6, float64(tt.max)/1e6, float64(hello.Size())/1e6)
		if st.Size() > tt.max {
			t.Errorf("%s bootstrap is %d bytes, over its %d-byte limit", tt.name, st.Size(), tt.max)
		}
		if st.Size() <= hello.Size() {
			t.Errorf("%s bootstrap (%d bytes) is not bigger than hello-world (%d): wrong binary?", tt.name, st.Size(), hello.Size())
		}
	}
}
