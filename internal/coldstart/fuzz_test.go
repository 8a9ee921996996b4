package coldstart_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"flashsale/internal/coldstart"
	"flashsale/internal/textout"
)

// FuzzParser checks that no input makes the parser fail or panic, and that
// what it reports is consistent. The seeds are the testdata fixtures.
func FuzzParser(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil && len(b) < 64<<10 {
			f.Add(string(b))
		}
	}
	f.Add("{\n  \"cold_start\": true,\n\"x\": [1, {\"y\": \"}\"}]\n}\n{")
	f.Add("REPORT RequestId: a\tDuration: 1 ms\tInit Duration: 1e308 ms\nREPORT RequestId: a\tDuration: NaN ms")
	f.Fuzz(func(t *testing.T, input string) {
		var p coldstart.Parser
		if err := p.Read(context.Background(), strings.NewReader(input)); err != nil {
			t.Fatalf("Read: %v", err)
		}
		d := p.Finish()
		c := d.Counts
		if c.Reports+c.Duplicates > c.Lines || len(d.Invocations) < c.Reports {
			t.Fatalf("counts %+v with %d invocations", c, len(d.Invocations))
		}
		a := coldstart.Analyze(d)
		var b strings.Builder
		if err := coldstart.WriteText(&b, a); err != nil {
			t.Fatal(err)
		}
		if err := textout.WriteJSON(&b, a); err != nil {
			t.Fatalf("JSON: %v", err)
		}
	})
}
