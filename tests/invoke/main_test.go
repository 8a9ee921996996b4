package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"flashsale/internal/testutil/rie"
)

const repoRoot = "../.."

func TestRunRejects(t *testing.T) {
	notJSON := filepath.Join(t.TempDir(), "x.json")
	if err := os.WriteFile(notJSON, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, fn, event, want string
	}{
		{"unknown function", "worker", "x.json", "want api or processor"},
		{"no event", "processor", "", "EVENT is required"},
		{"missing event", "processor", filepath.Join(t.TempDir(), "none.json"), "no such file"},
		{"not JSON", "processor", notJSON, "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			err := run(tt.fn, tt.event, "bootstrap", "rie", &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestRun is `make invoke` for both functions; for the API, with the
// throwaway moto_server it starts when ORDERS_TOPIC_ARN is unset.
func TestRun(t *testing.T) {
	emulator := rie.Require(t, filepath.Join(repoRoot, "bin"))
	t.Setenv("PAYMENT_DELAY", "100ms")
	t.Setenv("ORDERS_TOPIC_ARN", "")
	tests := []struct {
		fn, event string
		needs     string
		want      []string
		fnErr     bool // run returns errFunction: make invoke exits non-zero
	}{
		{"processor", "sns-order.json", "", []string{`"message":"order paid"`, `"cold_start":true`, "Init Duration:", "emulator INIT REPORT:", "response: null"}, false},
		{"processor", "sns-malformed.json", "", []string{"function error: ProcessingError"}, true},
		{"api", "api-async.json", "moto_server", []string{"started moto_server on http://127.0.0.1:", "response: HTTP 202", `"status":"pending"`, "the queue subscribed to arn:aws:sns:"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.fn+"/"+tt.event, func(t *testing.T) {
			if tt.needs != "" {
				if _, err := exec.LookPath(tt.needs); err != nil {
					if os.Getenv("CI") != "" {
						t.Fatalf("%s not found", tt.needs)
					}
					t.Skipf("%s not found", tt.needs)
				}
			}
			var out strings.Builder
			err := run(tt.fn, filepath.Join(repoRoot, "events", tt.event), rie.Build(t, repoRoot, "./functions/"+tt.fn), emulator, &out)
			if tt.fnErr != errors.Is(err, errFunction) || (!tt.fnErr && err != nil) {
				t.Fatalf("run = %v, want the function's error %v\n%s", err, tt.fnErr, out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
