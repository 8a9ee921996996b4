package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"flashsale/internal/testutil/samcli"
)

// runnableMark, on the line before a fenced code block of a document, marks
// the block as commands the tests run as written. Inside it, a comment `#>
// text` (a line of its own or after a command) says that the block's output
// contains text. outputMark, on the line before a fenced block that follows
// a runnable one (blank lines between them allowed), says that block is
// exactly what the runnable one prints (trailing spaces aside).
const (
	runnableMark = "<!-- runnable -->"
	outputMark   = "<!-- output -->"
)

// docBlock is one runnable block of a document.
type docBlock struct {
	line   int      // of its opening fence, 1-based
	code   string   // the commands
	expect []string // what its output must contain
	output *string  // what it prints exactly, when the document shows it
}

var expectComment = regexp.MustCompile(`(?:^|\s)#> (.+)$`)

// runnableBlocks returns the blocks of a Markdown document marked runnable,
// in order. A mark that is not followed by a fenced block is an error.
func runnableBlocks(md string) ([]docBlock, error) {
	lines := strings.Split(md, "\n")
	var blocks []docBlock
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != runnableMark {
			continue
		}
		if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "```") {
			return nil, fmt.Errorf("line %d: %s is not followed by a fenced code block", i+1, runnableMark)
		}
		b := docBlock{line: i + 2}
		var code []string
		closed := false
		for i += 2; i < len(lines); i++ {
			if strings.HasPrefix(lines[i], "```") {
				closed = true
				break
			}
			code = append(code, lines[i])
			if m := expectComment.FindStringSubmatch(lines[i]); m != nil {
				b.expect = append(b.expect, strings.TrimSpace(m[1]))
			}
		}
		if !closed {
			return nil, fmt.Errorf("line %d: the code block never closes", b.line)
		}
		b.code = strings.Join(code, "\n")
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) == "" {
			j++
		}
		if j < len(lines) && strings.TrimSpace(lines[j]) == outputMark {
			if j+1 >= len(lines) || !strings.HasPrefix(lines[j+1], "```") {
				return nil, fmt.Errorf("line %d: %s is not followed by a fenced code block", j+1, outputMark)
			}
			var out []string
			k := j + 2
			for ; k < len(lines) && !strings.HasPrefix(lines[k], "```"); k++ {
				out = append(out, lines[k])
			}
			if k >= len(lines) {
				return nil, fmt.Errorf("line %d: the output block never closes", j+2)
			}
			o := strings.Join(out, "\n")
			b.output = &o
			i = k
		}
		blocks = append(blocks, b)
	}
	return blocks, nil
}

func TestRunnableBlocks(t *testing.T) {
	tests := []struct {
		name    string
		md      string
		want    []docBlock
		wantErr bool
	}{
		{"none", "# t\n```sh\nmake run\n```\n", nil, false},
		{"one of two", "text\n" + runnableMark + "\n```sh\nmake test   #> ok\n# a comment\n#> PASS\n```\n```sh\nmake run\n```\n",
			[]docBlock{{line: 3, code: "make test   #> ok\n# a comment\n#> PASS", expect: []string{"ok", "PASS"}}}, false},
		{"not a URL fragment", runnableMark + "\n```sh\ncurl http://x/#>y\n```\n", []docBlock{{line: 2, code: "curl http://x/#>y"}}, false},
		{"mark without block", runnableMark + "\nprose\n", nil, true},
		{"with its output", runnableMark + "\n```sh\necho hi\n```\n\n" + outputMark + "\n```\nhi\n```\n",
			[]docBlock{{line: 2, code: "echo hi", output: ptr("hi")}}, false},
		{"output mark without block", runnableMark + "\n```sh\necho hi\n```\n" + outputMark + "\nprose\n", nil, true},
		{"unclosed", runnableMark + "\n```sh\nmake test\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := runnableBlocks(tt.md)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want an error %v", err, tt.wantErr)
			}
			if show(got) != show(tt.want) {
				t.Errorf("got %s\nwant %s", show(got), show(tt.want))
			}
		})
	}
}

// blockEnd separates the output of one block from the next.
const blockEnd = "@@flashsale-doc-block-end@@"

// runDoc runs the runnable blocks of a document as written, in one bash
// session (so that variables carry from block to block) in the repository,
// stopping at the first failing command, and checks each block's expected
// output. Whatever the blocks leave running in the background is
// interrupted, then killed, at the end.
func runDoc(t *testing.T, doc string, timeout time.Duration) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, doc))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := runnableBlocks(string(data))
	if err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	if len(blocks) == 0 {
		t.Fatalf("%s has no runnable block", doc)
	}
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for _, b := range blocks {
		fmt.Fprintf(&script, "%s\necho %s\n", b.code, blockEnd)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Dir = repoRoot
	cmd.Env = samcli.Env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = fmt.Errorf("not done within %v: %w", timeout, <-done)
	}
	// Background servers (moto_server, sam local start-api) stop on
	// SIGTERM (bash starts background commands with SIGINT ignored); what
	// does not within 20 s is killed.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	for i := 0; i < 100 && syscall.Kill(-cmd.Process.Pid, 0) == nil; i++ {
		time.Sleep(200 * time.Millisecond)
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)

	outputs := strings.Split(out.String(), blockEnd+"\n")
	ran := len(outputs) - 1 // blocks that finished
	t.Logf("%s: %d runnable blocks, %d ran in %v", doc, len(blocks), ran, time.Since(start).Round(time.Second))
	if err != nil {
		b := blocks[min(ran, len(blocks)-1)]
		t.Fatalf("%s, block at line %d, failed: %v\n--- block:\n%s\n--- its output:\n%s", doc, b.line, err, b.code, outputs[len(outputs)-1])
	}
	for i, b := range blocks {
		if b.output != nil {
			if got, want := normalizeOutput(outputs[i]), normalizeOutput(*b.output); got != want {
				t.Errorf("%s, block at line %d: output differs from what the document shows\n--- document:\n%s\n--- printed:\n%s", doc, b.line, want, got)
			}
		}
		for _, want := range b.expect {
			if !strings.Contains(outputs[i], want) {
				t.Errorf("%s, block at line %d: output lacks %q\n--- output:\n%s", doc, b.line, want, outputs[i])
			}
		}
	}
}

// TestDocsServerless runs every command of docs/serverless.md that needs no
// AWS account, as written: make invoke, make tools, make sam-invoke against
// a moto_server on the Docker bridge, make sam-api with flashsale load, and
// the cold-start analysis of what sam printed.
func TestDocsServerless(t *testing.T) {
	samcli.Bin(t, repoRoot)
	samcli.Docker(t)
	runDoc(t, "docs/serverless.md", 15*time.Minute)
	if left := samcli.Containers(t); len(left) > 0 {
		t.Logf("containers left by the walkthrough, removed now: %s", strings.Join(left, " "))
	}
}

// TestDocsREADME runs the README's runnable walkthrough (the worker service
// against moto_server) as written.
func TestDocsREADME(t *testing.T) {
	runDoc(t, "README.md", 5*time.Minute)
}

// normalizeOutput drops trailing spaces of each line and blank lines at
// either end.
func normalizeOutput(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	return strings.Trim(strings.Join(lines, "\n"), "\n")
}

func ptr(s string) *string { return &s }

// show prints blocks with their output's text rather than its address.
func show(bs []docBlock) string {
	var out []string
	for _, b := range bs {
		o := "<none>"
		if b.output != nil {
			o = *b.output
		}
		out = append(out, fmt.Sprintf("{line %d code %q expect %q output %q}", b.line, b.code, b.expect, o))
	}
	return strings.Join(out, " ")
}

// docTableNames returns, from the Markdown table of doc whose header row
// starts with header, the backquoted names of each row's first cell and the
// backquoted values of its second (or "" for "empty"), paired in order.
func docTableNames(t *testing.T, doc, header string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, doc))
	if err != nil {
		t.Fatal(err)
	}
	tick := regexp.MustCompile("`([^`]*)`")
	rows := map[string]string{}
	in := false
	for _, l := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(l, header):
			in = true
		case in && strings.HasPrefix(l, "| ---"):
		case in && strings.HasPrefix(l, "|"):
			cells := strings.Split(l, "|")
			names := tick.FindAllStringSubmatch(cells[1], -1)
			var values [][]string
			if len(cells) > 3 {
				values = tick.FindAllStringSubmatch(cells[2], -1)
			}
			for i, n := range names {
				v := ""
				if i < len(values) {
					v = values[i][1]
				}
				rows[n[1]] = v
			}
		case in:
			return rows
		}
	}
	if !in {
		t.Fatalf("%s has no table headed %q", doc, header)
	}
	return rows
}

// TestDocsMatchTemplate: docs/serverless.md lists every parameter of
// template.yaml with its default, and every output, and nothing else.
func TestDocsMatchTemplate(t *testing.T) {
	tp := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
	checkDefaults(t, tp, docTableNames(t, "docs/serverless.md", "| parameter | default |"), "docs/serverless.md parameter table")
	outputs := docTableNames(t, "docs/serverless.md", "| output | what |")
	declaredOut, _ := tp["Outputs"].(map[string]any)
	for name := range declaredOut {
		if _, ok := outputs[name]; !ok {
			t.Errorf("docs/serverless.md outputs table lacks %s", name)
		}
	}
	for name := range outputs {
		if declaredOut[name] == nil {
			t.Errorf("docs/serverless.md documents output %s, which template.yaml does not declare", name)
		}
	}
}
