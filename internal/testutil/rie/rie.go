// Package rie runs a Lambda bootstrap under aws-lambda-rie, the Runtime
// Interface Emulator that `sam local invoke` runs inside its container, on
// loopback ports of its own, and invokes it: `sam local invoke` without
// Docker. Tests and `make invoke` use it.
package rie

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Module and Version pin the emulator; the Makefile installs the same.
const (
	Module  = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	Version = "v0.0.0-20261030222936-bef5c4ba774d"
)

// InstallHint says how to get the emulator.
const InstallHint = "aws-lambda-rie not found on PATH, in bin/ or in $(go env GOPATH)/bin; install it with: go install " + Module + "@" + Version

// BuildFlags are the go build flags of every bootstrap, as the Makefile's
// lambda and build-<Function> targets pass them.
var BuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w"}

// Build compiles the Go package pkg (for example ./functions/processor,
// relative to the module root dir) into a bootstrap for Linux on this
// machine's architecture, with BuildFlags, and returns its path in a
// temporary directory of the test.
func Build(t testing.TB, dir, pkg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bootstrap")
	args := append(append([]string{"build"}, BuildFlags...), "-o", out, pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// InvokePath is the emulator's invocation endpoint.
const InvokePath = "/2015-03-31/functions/function/invocations"

// Find returns the path of aws-lambda-rie: on PATH, in one of dirs, or in
// $(go env GOPATH)/bin.
func Find(dirs ...string) (string, error) {
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, gp := range filepath.SplitList(strings.TrimSpace(string(out))) {
			dirs = append(dirs, filepath.Join(gp, "bin"))
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, "aws-lambda-rie")
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New(InstallHint)
}

// Require returns the emulator's path for a test. When it is missing the
// test fails with InstallHint if the CI environment variable is set, and is
// skipped otherwise.
func Require(t testing.TB, dirs ...string) string {
	t.Helper()
	p, err := Find(dirs...)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return p
}

// Config configures one emulator.
type Config struct {
	// Emulator is the path of aws-lambda-rie; required.
	Emulator string
	// Bootstrap is the path of the function's bootstrap binary; required.
	Bootstrap string
	// Env is the function's environment. The emulator passes its whole
	// environment to the function: only PATH, HOME, TMPDIR and these are
	// set, so nothing leaks from the caller unless listed here.
	Env []string
	// FunctionName is AWS_LAMBDA_FUNCTION_NAME ("function" when empty).
	FunctionName string
	// Timeout is the function timeout (30 s when zero).
	Timeout time.Duration
	// MemoryMB is the reported memory size (512 when zero).
	MemoryMB int
	// Log, when set, receives a copy of everything the emulator and the
	// function print.
	Log io.Writer
}

// Emulator is a running aws-lambda-rie with its function.
type Emulator struct {
	// URL is the emulator's base URL, http://127.0.0.1:PORT.
	URL string
	// RuntimeAPI is the address of the Runtime API the bootstrap polls.
	RuntimeAPI string

	cmd    *exec.Cmd
	done   chan struct{}
	stdout *lineBuffer
	stderr *lineBuffer
	stop   sync.Once
}

// Start starts the emulator on two free loopback ports (the invocation
// endpoint and the Runtime API) and waits until it accepts invocations. The
// function itself starts on the first invocation, as in Lambda. Stop it with
// Stop.
func Start(ctx context.Context, cfg Config) (*Emulator, error) {
	if cfg.Emulator == "" || cfg.Bootstrap == "" {
		return nil, errors.New("rie: emulator and bootstrap paths are required")
	}
	// The emulator runs in the bootstrap's directory (/var/task in Lambda).
	var err error
	for _, p := range []*string{&cfg.Emulator, &cfg.Bootstrap} {
		if *p, err = filepath.Abs(*p); err != nil {
			return nil, fmt.Errorf("rie: %w", err)
		}
		if _, err := os.Stat(*p); err != nil {
			return nil, fmt.Errorf("rie: %w", err)
		}
	}
	var last error
	for range 3 { // a port taken between choosing and binding: try others
		e, err := start(ctx, cfg)
		if err == nil {
			return e, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

func start(ctx context.Context, cfg Config) (*Emulator, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	e := &Emulator{
		URL:        fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		RuntimeAPI: fmt.Sprintf("127.0.0.1:%d", ports[1]),
		done:       make(chan struct{}),
		stdout:     &lineBuffer{tee: cfg.Log},
		stderr:     &lineBuffer{tee: cfg.Log},
	}
	name := cfg.FunctionName
	if name == "" {
		name = "function"
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	memory := cfg.MemoryMB
	if memory <= 0 {
		memory = 512
	}
	cmd := exec.Command(cfg.Emulator,
		"--runtime-interface-emulator-address", strings.TrimPrefix(e.URL, "http://"),
		"--runtime-api-address", e.RuntimeAPI,
		cfg.Bootstrap)
	cmd.Dir = filepath.Dir(cfg.Bootstrap)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"TMPDIR=" + os.TempDir(),
		"AWS_LAMBDA_FUNCTION_NAME=" + name,
		"AWS_LAMBDA_FUNCTION_TIMEOUT=" + strconv.Itoa(int(timeout.Round(time.Second)/time.Second)),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(memory),
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + name,
	}, cfg.Env...)
	cmd.Stdout, cmd.Stderr = e.stdout, e.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("rie: start %s: %w", cfg.Emulator, err)
	}
	e.cmd = cmd
	go func() { _ = cmd.Wait(); close(e.done) }()
	if err := e.waitReady(ctx, 10*time.Second); err != nil {
		e.Stop()
		return nil, fmt.Errorf("rie: %w\n%s", err, e.stderr.String())
	}
	return e, nil
}

func (e *Emulator) waitReady(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	addr := strings.TrimPrefix(e.URL, "http://")
	for time.Now().Before(deadline) {
		select {
		case <-e.done:
			return errors.New("emulator exited before accepting invocations")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("emulator not listening on %s after %v", addr, within)
}

// Stop kills the emulator and its function with SIGKILL (the emulator
// ignores SIGTERM) and waits for the emulator to exit. It is safe to call
// more than once.
func (e *Emulator) Stop() {
	e.stop.Do(func() {
		pid := e.cmd.Process.Pid
		// The emulator starts the bootstrap in a process group of its own:
		// find it by its parent and kill it before the emulator goes.
		for _, child := range children(pid) {
			_ = syscall.Kill(-child, syscall.SIGKILL)
			_ = syscall.Kill(child, syscall.SIGKILL)
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		select {
		case <-e.done:
		case <-time.After(5 * time.Second):
		}
	})
}

// children lists the processes whose parent is pid.
func children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, ent := range entries {
		child, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces, so split after ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// Output is everything the emulator printed on stdout so far: the START,
// END and REPORT lines and the function's own output.
func (e *Emulator) Output() string { return e.stdout.String() }

// Diagnostics is what the emulator logged on stderr (its own INFO lines).
func (e *Emulator) Diagnostics() string { return e.stderr.String() }

// Invocation is the outcome of one invocation.
type Invocation struct {
	// RequestID is the invocation's request ID.
	RequestID string
	// Status is the HTTP status of the emulator's answer.
	Status int
	// Response is the function's response payload (or error payload).
	Response []byte
	// Err is set when the function returned an error: its errorType and
	// errorMessage.
	Err *FunctionError
	// Report is the emulator's REPORT line for the invocation.
	Report Report
	// Lines are what the function printed during the invocation.
	Lines []string
}

// FunctionError is the error payload of a function that returned an error.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

// Error implements error.
func (f *FunctionError) Error() string { return f.Type + ": " + f.Message }

// Report is a parsed REPORT line.
type Report struct {
	// Line is the line as printed.
	Line string
	// DurationMS and BilledMS are the invocation's durations.
	DurationMS, BilledMS float64
	// InitMS is the Init Duration, present (HasInit) on a cold start only.
	InitMS  float64
	HasInit bool
}

var (
	durationRE = regexp.MustCompile(`\tDuration: ([0-9.]+) ms`)
	billedRE   = regexp.MustCompile(`Billed Duration: ([0-9.]+) ms`)
	initRE     = regexp.MustCompile(`Init Duration: ([0-9.]+) ms`)
	rapidInit  = regexp.MustCompile(`INIT REPORT\((?:[^)]*\s)?durationMs: ([0-9.]+)`)
)

// ParseReport parses an emulator (or CloudWatch) REPORT line.
func ParseReport(line string) (Report, error) {
	if !strings.HasPrefix(line, "REPORT RequestId: ") {
		return Report{}, fmt.Errorf("not a REPORT line: %q", line)
	}
	r := Report{Line: line}
	m := durationRE.FindStringSubmatch(line)
	if m == nil {
		return Report{}, fmt.Errorf("REPORT line without Duration: %q", line)
	}
	r.DurationMS, _ = strconv.ParseFloat(m[1], 64)
	if m := billedRE.FindStringSubmatch(line); m != nil {
		r.BilledMS, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := initRE.FindStringSubmatch(line); m != nil {
		r.InitMS, _ = strconv.ParseFloat(m[1], 64)
		r.HasInit = true
	}
	return r, nil
}

// InitReports are the init durations, in milliseconds, that the emulator
// logged (its "INIT REPORT(durationMs: ...)" lines: from the start of the
// bootstrap process to its first request for work, as Lambda's Init
// Duration).
func (e *Emulator) InitReports() []float64 {
	var out []float64
	for _, l := range e.stderr.Lines() {
		if m := rapidInit.FindStringSubmatch(l); m != nil {
			v, _ := strconv.ParseFloat(m[1], 64)
			out = append(out, v)
		}
	}
	return out
}

var requestSeq struct {
	sync.Mutex
	n int
}

func newRequestID() string {
	requestSeq.Lock()
	defer requestSeq.Unlock()
	requestSeq.n++
	return fmt.Sprintf("rie-%d-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9, requestSeq.n)
}

// Invoke sends event to the function and waits for its answer and for the
// emulator's REPORT line. requestID is used when not empty.
func (e *Emulator) Invoke(ctx context.Context, requestID string, event []byte) (*Invocation, error) {
	if requestID == "" {
		requestID = newRequestID()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL+InvokePath, bytes.NewReader(event))
	if err != nil {
		return nil, fmt.Errorf("rie: %w", err)
	}
	req.Header.Set("X-Amzn-RequestId", requestID)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("rie: invoke %s: %w\n%s", requestID, err, e.Diagnostics())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("rie: read response of %s: %w", requestID, err)
	}
	inv := &Invocation{RequestID: requestID, Status: resp.StatusCode, Response: body}
	var fe FunctionError
	if json.Unmarshal(body, &fe) == nil && fe.Type != "" && fe.Message != "" {
		inv.Err = &fe
	}
	// The emulator prints REPORT before it answers, but through a pipe that
	// we read concurrently: wait for it.
	prefix := "REPORT RequestId: " + requestID + "\t"
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines := e.stdout.Lines()
		if i := indexPrefix(lines, prefix); i >= 0 {
			if inv.Report, err = ParseReport(lines[i]); err != nil {
				return nil, fmt.Errorf("rie: %w", err)
			}
			inv.Lines = between(lines, "START RequestId: "+requestID+" ", "END RequestId: "+requestID)
			return inv, nil
		}
		if time.Now().After(deadline) {
			return inv, fmt.Errorf("rie: no REPORT line for %s in:\n%s", requestID, e.Output())
		}
		select {
		case <-ctx.Done():
			return inv, fmt.Errorf("rie: waiting for the REPORT of %s: %w", requestID, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func indexPrefix(lines []string, prefix string) int {
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return i
		}
	}
	return -1
}

func between(lines []string, start, end string) []string {
	var out []string
	in := false
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, start):
			in = true
		case l == end || strings.HasPrefix(l, end+" "):
			return out
		case in:
			out = append(out, l)
		}
	}
	return out
}

// lineBuffer collects a process's output; safe for concurrent use.
type lineBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	tee  io.Writer
	teeM sync.Mutex
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	b.buf.Write(p)
	b.mu.Unlock()
	if b.tee != nil {
		b.teeM.Lock()
		_, _ = b.tee.Write(p)
		b.teeM.Unlock()
	}
	return len(p), nil
}

func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Lines are the complete lines written so far.
func (b *lineBuffer) Lines() []string {
	s := b.String()
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	} else {
		return nil
	}
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

var portMu sync.Mutex

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	portMu.Lock()
	defer portMu.Unlock()
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("rie: free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
