// Package durable_test runs `flashsale serve` on its durable embedded
// default as a user does, the binary built by the test, and kills it: an
// order answered 202 must survive kill -9 and be paid exactly once, however
// many times the process dies, and a data directory in a bad state must
// stop serve with a clear error.
package durable_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"flashsale/internal/orderstore/diskstore"
	"flashsale/internal/payment"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flashsale-durable-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Readable by every user: the permission test runs it as nobody.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "flashsale")
	if out, err := exec.Command("go", "build", "-o", binary, "flashsale/cmd/flashsale").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build flashsale: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// serve is one `flashsale serve` process with JSON logs.
type serve struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	mu   sync.Mutex
	logs []map[string]any
	raw  bytes.Buffer
	news chan struct{} // a token when a record arrives
	done chan struct{} // closed when the process has exited
}

// startServe starts serve on a free port and waits until it serves.
func startServe(t *testing.T, args ...string) *serve {
	t.Helper()
	s := startProc(t, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	rec := s.waitRecord(30*time.Second, func(r map[string]any) bool { return r["msg"] == "flashsale serving" })
	if rec == nil {
		s.kill()
		t.Fatalf("serve did not start:\n%s", s.output())
	}
	s.url, _ = rec["addr"].(string)
	return s
}

func startProc(t *testing.T, args ...string) *serve {
	t.Helper()
	s := &serve{t: t, cmd: exec.Command(binary, args...), news: make(chan struct{}, 1), done: make(chan struct{})}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stdout = io.Discard
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var r map[string]any
			s.mu.Lock()
			s.raw.Write(sc.Bytes())
			s.raw.WriteByte('\n')
			if json.Unmarshal(sc.Bytes(), &r) == nil {
				s.logs = append(s.logs, r)
			}
			s.mu.Unlock()
			select {
			case s.news <- struct{}{}:
			default:
			}
		}
		_ = s.cmd.Wait()
	}()
	t.Cleanup(s.kill)
	return s
}

// waitRecord waits for a log record matching ok.
func (s *serve) waitRecord(within time.Duration, ok func(map[string]any) bool) map[string]any {
	deadline := time.After(within)
	for {
		s.mu.Lock()
		for _, r := range s.logs {
			if ok(r) {
				s.mu.Unlock()
				return r
			}
		}
		s.mu.Unlock()
		select {
		case <-s.news:
		case <-s.done:
			s.mu.Lock()
			defer s.mu.Unlock()
			for _, r := range s.logs {
				if ok(r) {
					return r
				}
			}
			return nil
		case <-deadline:
			return nil
		}
	}
}

// count is the number of records matching ok.
func (s *serve) count(ok func(map[string]any) bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.logs {
		if ok(r) {
			n++
		}
	}
	return n
}

func (s *serve) records() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.logs...)
}

func (s *serve) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.raw.String()
}

// kill sends SIGKILL and waits for the process to end.
func (s *serve) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// stop sends SIGTERM and returns the exit code.
func (s *serve) stop() int {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		s.kill()
		s.t.Fatalf("serve did not stop within 60s:\n%s", s.output())
	}
	return s.cmd.ProcessState.ExitCode()
}

// exitCode waits for a process that should end on its own.
func (s *serve) exitCode(within time.Duration) int {
	select {
	case <-s.done:
	case <-time.After(within):
		s.kill()
		s.t.Fatalf("process did not exit within %v:\n%s", within, s.output())
	}
	return s.cmd.ProcessState.ExitCode()
}

func isPaid(r map[string]any) bool { return r["msg"] == "order paid" }

func orderBody(id string) string {
	return fmt.Sprintf(`{"order_id":%q,"customer_id":7,"items":[{"product_id":"sku-1","quantity":1,"price":9.5}]}`, id)
}

var client = &http.Client{Timeout: 10 * time.Second}

// post sends one async order; code 0 when no answer came.
func post(url, id string) int {
	resp, err := client.Post(url+"/orders/async", "application/json", strings.NewReader(orderBody(id)))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// status returns an order's status from GET /orders/{id} ("" when 404).
func status(t *testing.T, url, id string) string {
	t.Helper()
	resp, err := client.Get(url + "/orders/" + id)
	if err != nil {
		t.Fatalf("GET order %s: %v", id, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return ""
	}
	var body struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET order %s: %d %v", id, resp.StatusCode, err)
	}
	return body.Status
}

// sender posts orders until stopped, from conc clients, and remembers
// which got 202 and which got no 202 (another status, or no answer).
type sender struct {
	mu       sync.Mutex
	accepted map[string]bool
	refused  map[string]bool
	stop     chan struct{}
	wg       sync.WaitGroup
}

func send(url, prefix string, conc int) *sender {
	s := &sender{accepted: map[string]bool{}, refused: map[string]bool{}, stop: make(chan struct{})}
	for c := range conc {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for n := 0; ; n++ {
				select {
				case <-s.stop:
					return
				default:
				}
				id := fmt.Sprintf("%s-%d-%d", prefix, c, n)
				code := post(url, id)
				s.mu.Lock()
				if code == http.StatusAccepted {
					s.accepted[id] = true
				} else {
					s.refused[id] = true
				}
				s.mu.Unlock()
				if code == 0 {
					return // the server is gone
				}
			}
		}()
	}
	return s
}

func (s *sender) halt() {
	close(s.stop)
	s.wg.Wait()
}

func (s *sender) acceptedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.accepted)
}

// TestCrashHarness: a client sends orders while serve is SIGKILLed at
// several points, over several rounds: while accepting, in the middle of
// payments, and during the replay after a restart. At the end every order
// that got a 202 is completed and was charged exactly once (counted in
// every run's payment records and in the charges of the database), and
// every order that got no 202 is absent or paid once.
func TestCrashHarness(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	const workers = 4
	args := []string{"--data-dir", dir, "--workers", strconv.Itoa(workers), "--payment-delay", "30ms", "--drain-timeout", "1s"}
	var runs []*serve
	accepted, refused := map[string]bool{}, map[string]bool{}
	collect := func(s *sender) {
		s.halt()
		for id := range s.accepted {
			accepted[id] = true
		}
		for id := range s.refused {
			refused[id] = true
		}
	}
	paidSince := func(p *serve, n int) func() bool {
		return func() bool { return p.count(isPaid) >= n }
	}
	waitFor := func(within time.Duration, cond func() bool) bool {
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			if cond() {
				return true
			}
			time.Sleep(5 * time.Millisecond)
		}
		return false
	}

	for round := 1; round <= 3; round++ {
		// 1. Killed while accepting: clients are posting, few are paid.
		p := startServe(t, args...)
		runs = append(runs, p)
		restored := int(p.waitRecord(time.Second, func(r map[string]any) bool { return r["msg"] == "flashsale serving" })["restored_orders"].(float64))
		if round > 1 && restored == 0 {
			t.Errorf("round %d: restart restored no order, but the last run was killed with orders queued", round)
		}
		s := send(p.url, fmt.Sprintf("r%d-accepting", round), 16)
		if !waitFor(20*time.Second, func() bool { return s.acceptedCount() >= 150 }) {
			t.Fatalf("round %d: fewer than 150 orders accepted in 20s:\n%s", round, tailOf(p.output(), 20))
		}
		p.kill()
		collect(s)

		// 2. Killed during the replay after the restart: the restored
		// orders are being paid.
		p = startServe(t, args...)
		runs = append(runs, p)
		if !waitFor(20*time.Second, paidSince(p, 5)) {
			t.Fatalf("round %d: replay paid nothing in 20s:\n%s", round, tailOf(p.output(), 20))
		}
		p.kill()

		// 3. Killed in the middle of payments while clients post.
		p = startServe(t, args...)
		runs = append(runs, p)
		s = send(p.url, fmt.Sprintf("r%d-paying", round), 8)
		if !waitFor(20*time.Second, func() bool { return s.acceptedCount() >= 100 && p.count(isPaid) >= 40 }) {
			t.Fatalf("round %d: not enough accepted and paid in 20s:\n%s", round, tailOf(p.output(), 20))
		}
		p.kill()
		collect(s)
	}

	// The last run pays the rest and stops cleanly.
	p := startServe(t, args...)
	runs = append(runs, p)
	var pending []string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pending = pending[:0]
		for id := range accepted {
			if st := status(t, p.url, id); st != "completed" {
				pending = append(pending, id+"="+st)
			}
		}
		if len(pending) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(pending) > 0 {
		t.Fatalf("%d of %d accepted orders not completed: %v", len(pending), len(accepted), head(pending, 10))
	}
	notAccepted := map[string]string{}
	for id := range refused {
		notAccepted[id] = status(t, p.url, id)
	}
	if code := p.stop(); code != 0 {
		t.Errorf("last serve exit code %d:\n%s", code, tailOf(p.output(), 20))
	}

	// Every run's payment records.
	charged := map[string]int{}
	for _, r := range runs {
		for _, rec := range r.records() {
			if isPaid(rec) && rec["charged"] == true {
				charged[rec["order_id"].(string)]++
			}
		}
	}
	db, err := diskstore.Open(dir, diskstore.Config{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	charges, err := db.Charges(context.Background())
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range charged {
		if n > 1 {
			t.Errorf("order %s charged %d times across the runs", id, n)
		}
	}
	for id := range accepted {
		if charges[id].Result != payment.ResultCompleted {
			t.Errorf("accepted order %s: no charge in the database (%+v)", id, charges[id])
		}
	}
	for id, st := range notAccepted {
		if st != "" && st != "completed" && st != "failed" {
			t.Errorf("order %s got no 202 and is %q: want absent, or paid once", id, st)
		}
	}
	// A charge without its payment record is one whose process was killed
	// between the two: allowed, but only by a run that was killed, and at
	// most one per worker of it (each has one payment in flight).
	killed := map[string]int{} // the name of each killed run's claims -> unlogged charges
	for _, r := range runs[:len(runs)-1] {
		killed[fmt.Sprintf("-%d", r.cmd.Process.Pid)] = 0
	}
	unlogged := 0
	for id, c := range charges {
		if charged[id] > 0 {
			continue
		}
		unlogged++
		name, _, _ := strings.Cut(c.Holder, "/") // serve@<host>-<pid>/<worker>
		pid := name[max(strings.LastIndex(name, "-"), 0):]
		n, ok := killed[pid]
		if !ok {
			t.Errorf("order %s: charged by %s, which was not killed, with no payment record", id, c.Holder)
			continue
		}
		killed[pid] = n + 1
	}
	for pid, n := range killed {
		if n > workers {
			t.Errorf("the run of pid %s left %d charges without a payment record, more than its %d workers had in flight", pid[1:], n, workers)
		}
	}
	t.Logf("%d runs, %d orders accepted, %d got no 202 (%d of them recorded); %d charges, %d of them by a run killed before its record",
		len(runs), len(accepted), len(refused), countRecorded(notAccepted), len(charges), unlogged)
}

func countRecorded(m map[string]string) int {
	n := 0
	for _, st := range m {
		if st != "" {
			n++
		}
	}
	return n
}

func head(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func tailOf(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// TestSpillImport is the upgrade path of the issue as a regression test: a
// spill file of an earlier version is imported once and removed, its
// orders paid once, and a kill -9 after that pays none of them again.
func TestSpillImport(t *testing.T) {
	tmp := t.TempDir()
	dir, spill := filepath.Join(tmp, "data"), filepath.Join(tmp, "spill.jsonl")
	var lines []string
	var ids []string
	for i := range 19 {
		id := fmt.Sprintf("spilled-%02d", i)
		ids = append(ids, id)
		lines = append(lines, fmt.Sprintf(`{"order_id":%q,"customer_id":7,"items":[{"product_id":"sku-1","quantity":1,"price":9.5}],"status":"pending","created_at":"2026-12-01T10:00:00Z"}`, id))
	}
	if err := os.WriteFile(spill, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--data-dir", dir, "--spill-file", spill, "--workers", "20", "--payment-delay", "100ms"}
	first := startServe(t, args...)
	if rec := first.waitRecord(5*time.Second, func(r map[string]any) bool { return r["msg"] == "spill file imported into the database and removed" }); rec == nil || rec["orders"] != float64(19) {
		t.Fatalf("import record = %v:\n%s", rec, first.output())
	}
	if _, err := os.Stat(spill); !os.IsNotExist(err) {
		t.Errorf("spill file after the import: %v, want it removed", err)
	}
	if !waitPaid(first, 19, 20*time.Second) {
		t.Fatalf("19 spilled orders not paid:\n%s", tailOf(first.output(), 20))
	}
	first.kill()

	second := startServe(t, args...)
	for _, id := range ids {
		if st := status(t, second.url, id); st != "completed" {
			t.Errorf("order %s after the kill: %q, want completed", id, st)
		}
	}
	time.Sleep(500 * time.Millisecond) // what a replay would pay in this time, it would have paid
	if n := second.count(isPaid); n != 0 {
		t.Errorf("the run after the kill paid %d orders again", n)
	}
	if rec := second.waitRecord(time.Second, func(r map[string]any) bool { return r["msg"] == "flashsale serving" }); rec["restored_orders"] != float64(0) {
		t.Errorf("restored %v orders after the kill, want 0", rec["restored_orders"])
	}
	if code := second.stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	paid := map[string]int{}
	for _, p := range []*serve{first, second} {
		for _, r := range p.records() {
			if isPaid(r) {
				paid[r["order_id"].(string)]++
			}
		}
	}
	for _, id := range ids {
		if paid[id] != 1 {
			t.Errorf("order %s paid %d times, want 1", id, paid[id])
		}
	}
}

func waitPaid(p *serve, n int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if p.count(isPaid) >= n {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// TestBadDataDir: serve refuses a data dir another serve holds, one it
// cannot write and a damaged database, with an error naming the path and
// what to do, and a non-zero exit; the first serve goes on untouched.
func TestBadDataDir(t *testing.T) {
	t.Run("held by another serve", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		first := startServe(t, "--data-dir", dir)
		second := startProc(t, "serve", "--addr", "127.0.0.1:0", "--data-dir", dir)
		if code := second.exitCode(30 * time.Second); code == 0 {
			t.Errorf("second serve on %s exited 0", dir)
		}
		if out := second.output(); !strings.Contains(out, dir) || !strings.Contains(out, "another flashsale serve uses it") {
			t.Errorf("second serve said:\n%s\nwant the path and what to do", out)
		}
		if code := post(first.url, "after-the-second"); code != http.StatusAccepted {
			t.Errorf("first serve answered %d after the second tried", code)
		}
		if code := first.stop(); code != 0 {
			t.Errorf("first serve exit code %d", code)
		}
	})

	t.Run("damaged", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		p := startServe(t, "--data-dir", dir)
		for i := range 50 {
			if code := post(p.url, fmt.Sprintf("before-damage-%d", i)); code != http.StatusAccepted {
				t.Fatalf("post: %d", code)
			}
		}
		if code := p.stop(); code != 0 {
			t.Fatalf("exit code %d", code)
		}
		tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
		if len(tables) == 0 {
			t.Fatalf("no table file in %s after a clean stop", dir)
		}
		for _, f := range tables {
			info, _ := os.Stat(f)
			if err := os.Truncate(f, info.Size()/2); err != nil {
				t.Fatal(err)
			}
		}
		bad := startProc(t, "serve", "--addr", "127.0.0.1:0", "--data-dir", dir)
		if code := bad.exitCode(30 * time.Second); code == 0 {
			t.Errorf("serve on a damaged database exited 0")
		}
		if out := bad.output(); !strings.Contains(out, dir) || !strings.Contains(out, "restore the directory from a backup") || strings.Contains(out, "flashsale serving") {
			t.Errorf("serve on a damaged database said:\n%s\nwant the path and what to do, and no start", out)
		}
	})

	t.Run("no write permission", func(t *testing.T) {
		parent := t.TempDir()
		if err := os.Chmod(parent, 0o755); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(parent, "data")
		if err := os.Mkdir(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--data-dir", dir)
		if os.Geteuid() == 0 {
			// root writes anywhere: run it as nobody, as a user would be.
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("serve on a read-only data dir exited 0:\n%s", out)
		}
		if !strings.Contains(string(out), dir) || !strings.Contains(string(out), "choose a --data-dir you can write") {
			t.Errorf("serve on a read-only data dir said:\n%s\nwant the path and what to do", out)
		}
	})
}
