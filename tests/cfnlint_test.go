package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requireTool finds a command on PATH. When it is missing the test fails
// with the install hint if the CI environment variable is set, and is
// skipped otherwise.
func requireTool(t *testing.T, name, hint string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		msg := name + " not found on PATH; install it with: " + hint
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

func TestCfnLint(t *testing.T) {
	bin := requireTool(t, "cfn-lint", `pip install cfn-lint`)
	template := filepath.Join(repoRoot, "template.yaml")
	out, err := exec.Command(bin, template).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Fatalf("cfn-lint template.yaml: %v\n%s", err, out)
	}

	// The linter does check: a broken copy is rejected.
	src, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, old, new, want string
	}{
		{"unknown event property", "Path: /orders/sync\n", "Path: /orders/sync\n            Bogus: 1\n", "Bogus"},
		{"dangling reference", "ORDERS_TOPIC_ARN: !Ref OrdersTopic", "ORDERS_TOPIC_ARN: !Ref NoSuchTopic", "NoSuchTopic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(string(src), tt.old) {
				t.Fatalf("template.yaml has no %q to break", tt.old)
			}
			broken := filepath.Join(t.TempDir(), "template.yaml")
			if err := os.WriteFile(broken, []byte(strings.Replace(string(src), tt.old, tt.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bin, broken).CombinedOutput()
			if err == nil || !strings.Contains(string(out), tt.want) {
				t.Fatalf("cfn-lint accepted a broken template (err %v):\n%s", err, out)
			}
		})
	}
}
