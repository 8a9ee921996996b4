package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"flashsale/internal/testutil/samcli"
)

// samBuilds are the `make sam-build` outputs of this test binary, one per
// architecture.
var samBuilds struct {
	mu   sync.Mutex
	dirs map[string]*samBuildResult
}

type samBuildResult struct {
	once sync.Once
	dir  string // the build directory: template.yaml, <Function>/bootstrap
	out  string
	err  error
}

// samBuild runs `make sam-build ARCH=arch` once per test binary, into a
// directory of its own (the real `sam build`, through the Makefile's
// build-<Function> targets), and returns the build directory.
func samBuild(t *testing.T, arch string) string {
	t.Helper()
	sam := samcli.Bin(t, repoRoot)
	samBuilds.mu.Lock()
	if samBuilds.dirs == nil {
		samBuilds.dirs = map[string]*samBuildResult{}
	}
	r := samBuilds.dirs[arch]
	if r == nil {
		r = &samBuildResult{}
		samBuilds.dirs[arch] = r
	}
	samBuilds.mu.Unlock()
	r.once.Do(func() {
		tmp, err := binaryTempDir("flashsale-sam-build-" + arch + "-")
		if err != nil {
			r.err = err
			return
		}
		r.dir = filepath.Join(tmp, "build")
		cmd := exec.Command("make", "--no-print-directory", "sam-build", "ARCH="+arch, "SAM="+sam,
			"SAM_BUILD_DIR="+r.dir,
			"SAM_BUILD_FLAGS=--build-dir "+r.dir+" --cache-dir "+filepath.Join(tmp, "cache"))
		cmd.Dir = repoRoot
		cmd.Env = samcli.Env()
		out, err := cmd.CombinedOutput()
		r.out, r.err = string(out), err
	})
	if r.err != nil {
		t.Fatalf("make sam-build ARCH=%s: %v\n%s", arch, r.err, r.out)
	}
	return r.dir
}

// TestSAMBuild runs `sam build` for each value of the Architecture parameter
// and checks that every function's bootstrap is a static Linux executable
// for the architecture the built template declares, within the size
// budgets.
func TestSAMBuild(t *testing.T) {
	budgets := map[string]int64{"ApiFunction": maxAPIBytes, "ProcessorFunction": maxProcessorBytes}
	goarch := map[string]string{"arm64": "arm64", "x86_64": "amd64"}
	for _, arch := range []string{"arm64", "x86_64"} {
		t.Run(arch, func(t *testing.T) {
			t.Parallel()
			dir := samBuild(t, arch)
			tp := template(loadTemplate(t, filepath.Join(dir, "template.yaml")))
			for fn, budget := range budgets {
				declared := resolveRefs(tp.fnProp(fn, "Architectures"), map[string]string{"Architecture": arch})
				list, _ := declared.([]any)
				if len(list) != 1 || list[0] != arch {
					t.Fatalf("%s: the built template declares Architectures %v, want [%s]", fn, declared, arch)
				}
				codeURI, _ := tp.fnProp(fn, "CodeUri").(string)
				path := filepath.Join(dir, codeURI, "bootstrap")
				checkELF(t, path, goarch[arch])
				st, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if st.Size() > budget {
					t.Errorf("%s bootstrap for %s: %d bytes, over the %d budget", fn, arch, st.Size(), budget)
				}
				t.Logf("%-17s %-6s bootstrap %6.2f MB (budget %5.2f MB)", fn, arch, float64(st.Size())/1e6, float64(budget)/1e6)
			}
		})
	}
}

// TestSAMCheckBootstraps: `make check-bootstraps`, which
// `make sam-build` runs after `sam build`, refuses bootstraps built for
// another architecture than the one asked for, and a directory with none.
func TestSAMCheckBootstraps(t *testing.T) {
	dir := samBuild(t, "x86_64")
	tests := []struct {
		dir, arch string
		ok        bool
		says      string
	}{
		{dir, "x86_64", true, "Linux executable for x86_64"},
		{dir, "arm64", false, "not a Linux executable for arm64"},
		{t.TempDir(), "arm64", false, "no */bootstrap"},
	}
	for _, tt := range tests {
		cmd := exec.Command("make", "--no-print-directory", "check-bootstraps", "DIR="+tt.dir, "ARCH="+tt.arch)
		cmd.Dir = repoRoot
		out, err := cmd.CombinedOutput()
		if (err == nil) != tt.ok || !strings.Contains(string(out), tt.says) {
			t.Errorf("check-bootstraps DIR=%s ARCH=%s: err %v, output %q; want ok %v and %q", tt.dir, tt.arch, err, out, tt.ok, tt.says)
		}
	}
}

// TestSAMValidate: `sam validate --lint` (cfn-lint with the SAM transform,
// inside the SAM CLI) passes on template.yaml and fails on a broken copy.
func TestSAMValidate(t *testing.T) {
	sam := samcli.Bin(t, repoRoot)
	r := samcli.Run(t, sam, repoRoot, samTimeout, nil, "validate", "--lint")
	if r.Err != nil {
		t.Fatalf("sam validate --lint: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
	data, err := os.ReadFile(filepath.Join(repoRoot, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(data), "    Default: arm64\n", "    Default: sparc\n", 1)
	if broken == string(data) {
		t.Fatal("template.yaml has no `Default: arm64` to break")
	}
	path := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	r = samcli.Run(t, sam, repoRoot, samTimeout, nil, "validate", "--lint", "--template", path)
	if r.Err == nil || !strings.Contains(r.Stdout+r.Stderr, "E2015") {
		t.Errorf("sam validate --lint of an Architecture default outside its AllowedValues: err %v, output %s%s; want cfn-lint's E2015 (default outside AllowedValues)", r.Err, r.Stdout, r.Stderr)
	}
}

// resolveRefs replaces each {"Ref": P} in v by params[P] when given, as
// `sam build --parameter-overrides` does.
func resolveRefs(v any, params map[string]string) any {
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["Ref"].(string); ok && len(x) == 1 {
			if p, ok := params[ref]; ok {
				return p
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = resolveRefs(e, params)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = resolveRefs(e, params)
		}
		return out
	}
	return v
}
