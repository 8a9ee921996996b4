package workerservice_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"flashsale/internal/ociimage"
	"flashsale/internal/order"
	"flashsale/internal/orderstore"
	"flashsale/internal/orderstore/dynamostore"
	"flashsale/internal/testutil/moto"
	"flashsale/internal/testutil/samcli"
)

// imageRef is what TestWorkerImage loads the image as: not the
// flashsale:latest of `make image`.
const imageRef = "flashsale-e2e:test"

// TestWorkerImage builds the worker's container image for this machine
// (internal/ociimage, what `make image` runs), loads it into the local
// Docker Engine and runs it as the worker against a moto_server on the
// Docker bridge address (the only address a container reaches this machine
// at): read-only root file system, no capabilities, as the image's
// non-root user. Every container it starts is removed at its end. Without
// a Docker Engine it fails with the set-up hint when CI is set, and is
// skipped with it otherwise.
func TestWorkerImage(t *testing.T) {
	version := samcli.DockerEngine(t)
	bridge := samcli.BridgeIP(t)
	srv := moto.StartOn(t, bridge, moto.FreePort(t))
	loadImage(t)
	t.Logf("Docker Engine %s; moto_server at %s", version, srv.Endpoint)
	t.Run("PaysOrders", func(t *testing.T) { testImagePays(t, srv) })
	t.Run("StopFinishesInFlight", func(t *testing.T) { testImageStop(t, srv) })
	t.Run("KillLosesNothing", func(t *testing.T) { testImageKill(t, srv) })
}

// loadImage builds the image for this machine's platform and loads it as
// imageRef; it is removed at the end of the test.
func loadImage(t *testing.T) ociimage.Image {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	begin := time.Now()
	repo, tag, _ := strings.Cut(imageRef, ":")
	res, err := ociimage.Build(ctx, ociimage.Options{Dir: filepath.Join("..", ".."), Out: t.TempDir(),
		Platforms: []string{ociimage.HostPlatform()}, Repository: repo, Tags: []string{tag}})
	if err != nil {
		t.Fatal(err)
	}
	im := res.Images[0]
	if err := ociimage.Load(ctx, im, res.Refs); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = dockerCmd(30*time.Second, "image", "rm", imageRef) })
	size, err := dockerCmd(10*time.Second, "image", "inspect", "--format", "{{.Size}}", imageRef)
	if err != nil {
		t.Fatal(size, err)
	}
	n, _ := strconv.ParseInt(size, 10, 64)
	t.Logf("image %s (%s, %s, image ID %s) built and loaded in %v: %.1f MB to pull, %.1f MB in Docker (binary %.1f MB)",
		imageRef, im.Platform, im.Digest, im.ID, time.Since(begin).Round(time.Millisecond),
		float64(im.Size)/1e6, float64(n)/1e6, float64(im.Binary)/1e6)
	return im
}

func dockerCmd(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		err = fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), err
}

// container is a worker container started from the image.
type container struct {
	t      *testing.T
	name   string
	id     string
	health string // http://127.0.0.1:PORT, its 8081 published on loopback only
}

// runImage starts the image detached, as its own user, read-only, with no
// capabilities and the moto_server's endpoint and dummy keys in its
// environment, and with args after the image's entrypoint (`flashsale
// worker --addr 0.0.0.0:8081`). volumes are -v values. It waits for the
// startup record and /health, and removes the container at the end of the
// test (after logging its output if the test failed).
func runImage(t *testing.T, srv *moto.Server, name string, volumes []string, args ...string) *container {
	t.Helper()
	c := &container{t: t, name: name}
	run := []string{"run", "--detach", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"--label", "dev.flashsale.test=" + t.Name(), "--publish", "127.0.0.1::" + strconv.Itoa(ociimage.HealthPort)}
	for _, kv := range srv.Env() {
		run = append(run, "--env", kv)
	}
	for _, v := range volumes {
		run = append(run, "--volume", v)
	}
	run = append(run, imageRef)
	id, err := dockerCmd(time.Minute, append(run, args...)...)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	c.id = id
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("output of %s (%.12s):\n%s", name, c.id, tail(c.logs(), 40))
		}
		if out, err := dockerCmd(time.Minute, "rm", "--force", "--volumes", c.id); err != nil {
			t.Errorf("removing %s: %v: %s", name, err, out)
		}
	})
	port, err := dockerCmd(10*time.Second, "port", c.id, strconv.Itoa(ociimage.HealthPort)+"/tcp")
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	c.health = "http://" + strings.Fields(port)[0]
	eventually(t, 30*time.Second, func() (bool, string) {
		if state := c.inspect("{{.State.Status}}"); state != "running" {
			t.Fatalf("%s is %s at start:\n%s", name, state, c.logs())
		}
		if c.record("worker service ready") == nil {
			return false, "no startup record"
		}
		resp, err := http.Get(c.health + "/health")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	r := c.record("worker service ready")
	initMS, ok := r["init_ms"].(float64)
	if r["cold_start"] != true || !ok || initMS <= 0 || r["function"] != "flashsale-worker" {
		t.Fatalf("%s: startup record %v: want cold_start true, init_ms > 0, function flashsale-worker", name, r)
	}
	t.Logf("%s: worker service ready, init_ms %.1f (process start to ready, in the container)", name, initMS)
	return c
}

func (c *container) inspect(format string) string {
	c.t.Helper()
	out, err := dockerCmd(10*time.Second, "inspect", "--format", format, c.id)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

// logs is what the container wrote (the worker logs JSON on stderr).
func (c *container) logs() string {
	out, _ := exec.Command("docker", "logs", c.id).CombinedOutput()
	return string(out)
}

func (c *container) records() []map[string]any { return logRecords(c.logs()) }

// record is the last record with this message, or nil.
func (c *container) record(msg string) map[string]any { return lastRecord(c.records(), msg) }

// paid counts the orders the container logged as paid, by order ID, and
// those of them the provider charged (not answered from the idempotency key).
func (c *container) paid() (paid, charged map[string]int) { return paidIn(c.records()) }

// metrics scrapes the container's /metrics through its published port.
func (c *container) metrics() map[string]float64 {
	c.t.Helper()
	resp, err := http.Get(c.health + "/metrics")
	if err != nil {
		c.t.Fatalf("scrape %s: %v", c.name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("scrape %s: %v", c.name, err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// ordersTable creates an orders table on the moto_server and returns the
// store reading it.
func ordersTable(t *testing.T, srv *moto.Server, name string) *dynamostore.Store {
	t.Helper()
	ddb := dynamodb.NewFromConfig(srv.Config(t))
	if err := dynamostore.CreateTable(context.Background(), ddb, name); err != nil {
		t.Fatal(err)
	}
	store, err := dynamostore.New(ddb, dynamostore.Config{Table: name})
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// statuses reads each order's status in the store ("absent" when it holds
// none).
func statuses(t *testing.T, store *dynamostore.Store, ids []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, id := range ids {
		rec, err := store.Get(context.Background(), id)
		switch {
		case errors.Is(err, orderstore.ErrNotFound):
			out[id] = "absent"
		case err != nil:
			t.Fatalf("order %s: %v", id, err)
		default:
			out[id] = string(rec.Status())
		}
	}
	return out
}

func countValues(m map[string]string) map[string]int {
	out := map[string]int{}
	for _, v := range m {
		out[v]++
	}
	return out
}

// testImagePays: the container pays the orders published to the topic and
// records them completed in the orders table; its /health answers on the
// published port; it runs as the image's non-root user on a read-only root
// file system.
func testImagePays(t *testing.T, srv *moto.Server) {
	const n = 20
	s := newStack(t, srv, 10, 5)
	store := ordersTable(t, srv, "orders-image-pays")
	c := runImage(t, srv, "worker", nil, "--queue-url", s.queueURL, "--orders-table", "orders-image-pays",
		"--workers", "5", "--payment-delay", "200ms")

	// Who it runs as: the image's user, a process uid that is not root.
	if got := c.inspect("{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{json .HostConfig.CapDrop}}"); got != "65532:65532 true [\"ALL\"]" {
		t.Errorf("container user, read-only, dropped capabilities: %s; want 65532:65532 true [\"ALL\"]", got)
	}
	top, err := dockerCmd(10*time.Second, "top", c.id, "-o", "uid,gid,pid,args")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(top, "\n")
	if f := strings.Fields(lines[len(lines)-1]); len(lines) != 2 || len(f) < 4 || f[0] != "65532" || f[1] != "65532" || f[3] != ociimage.Binary {
		t.Errorf("docker top:\n%s\nwant one process, %s, uid and gid 65532", top, ociimage.Binary)
	}
	t.Logf("docker top: %s", lines[len(lines)-1])
	resp, err := http.Get(c.health + "/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != `{"status":"ok"}` {
		t.Errorf("GET /health: %s %s, want 200 {\"status\":\"ok\"}", resp.Status, body)
	}

	begin := time.Now()
	ids := s.publish(t, newOrders(t, n)...)
	poll(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		st := countValues(statuses(t, store, ids))
		return st[string(order.StatusCompleted)] == n, fmt.Sprintf("orders table: %v", st)
	})
	paid, charged := c.paid()
	for _, id := range ids {
		if paid[id] != 1 || charged[id] != 1 {
			t.Errorf("order %s: %d \"order paid\" records (%d charged), want 1", id, paid[id], charged[id])
		}
	}
	m := c.metrics()
	if m[completed] != n || m[`flashsale_payments_total{result="declined"}`] != 0 {
		t.Errorf("metrics: completed %v, declined %v; want %d and 0", m[completed], m[`flashsale_payments_total{result="declined"}`], n)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		c := s.counts(t, s.queueURL)
		return c.Total() == 0, fmt.Sprintf("queue %+v", c)
	})
	t.Logf("%d orders published to the topic, all completed in the orders table after %v", n, time.Since(begin).Round(time.Millisecond))
}

// testImageStop: `docker stop` (SIGTERM) in the middle of payments: the
// container stops receiving, its payments in flight finish and are deleted,
// the buffered messages are given back, and nothing unpaid is deleted.
func testImageStop(t *testing.T, srv *moto.Server) {
	const n, workers = 12, 4
	// A long visibility timeout: a message left invisible by the shutdown
	// would stay so for the rest of the test.
	s := newStack(t, srv, 30, 5)
	store := ordersTable(t, srv, "orders-image-stop")
	ids := s.publish(t, newOrders(t, n)...)
	c := runImage(t, srv, "worker", nil, "--queue-url", s.queueURL, "--orders-table", "orders-image-stop",
		"--workers", strconv.Itoa(workers), "--payment-delay", "3s")
	eventually(t, 15*time.Second, func() (bool, string) {
		m := c.metrics()
		return m[inFlight] == workers && m["flashsale_sqs_messages_held"] == 2*workers,
			fmt.Sprintf("in flight %v, held %v", m[inFlight], m["flashsale_sqs_messages_held"])
	})
	if m := c.metrics(); m[completed] != 0 {
		t.Fatalf("%v payments completed before docker stop; want them all in flight", m[completed])
	}
	sent := time.Now()
	stopErr := make(chan error, 1)
	go func() {
		_, err := dockerCmd(time.Minute, "stop", "--time", "30", c.id)
		stopErr <- err
	}()
	// It stops receiving at once: the buffered messages are visible again
	// while the payments still run, and /health tells load balancers it is
	// going.
	eventually(t, 2500*time.Millisecond, func() (bool, string) {
		q := s.counts(t, s.queueURL)
		return q.Visible == n-workers && q.NotVisible == workers, fmt.Sprintf("queue %+v", q)
	})
	if resp, err := http.Get(c.health + "/health"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("GET /health while stopping: %v %v, want 503", resp, err)
	} else {
		resp.Body.Close()
	}
	if err := <-stopErr; err != nil {
		t.Fatal(err)
	}
	took := time.Since(sent)
	if code := c.inspect("{{.State.ExitCode}} {{.State.OOMKilled}}"); code != "0 false" {
		t.Errorf("exit code, OOM killed: %s; want 0 false", code)
	}
	if took < 2*time.Second {
		t.Errorf("docker stop returned after %v: before the 3s payments could finish", took)
	}
	paid, _ := c.paid()
	if len(paid) != workers {
		t.Errorf("%d orders paid, want the %d in flight", len(paid), workers)
	}
	stopped := c.record("worker service stopped")
	for k, want := range map[string]float64{"paid": workers, "interrupted": 0, "deleted": workers, "delete_failed": 0, "received": 2 * workers} {
		if stopped == nil || stopped[k] != want {
			t.Errorf("final record %v: %s = %v, want %v", stopped, k, stopped[k], want)
		}
	}
	// Everything unpaid is back in the queue, visible at once; nothing paid
	// is; nothing unpaid is recorded completed.
	q := s.counts(t, s.queueURL)
	if q.Visible != n-workers || q.NotVisible != 0 {
		t.Errorf("queue after the stop %+v, want %d visible and none in flight", q, n-workers)
	}
	left := s.drainIDs(t, s.queueURL)
	var unpaid []string
	st := statuses(t, store, ids)
	for _, id := range ids {
		if paid[id] == 0 {
			unpaid = append(unpaid, id)
			if st[id] == string(order.StatusCompleted) {
				t.Errorf("order %s is completed in the table but was not paid", id)
			}
		} else if st[id] != string(order.StatusCompleted) {
			t.Errorf("order %s was paid but is %s in the table", id, st[id])
		}
	}
	slices.Sort(left)
	slices.Sort(unpaid)
	if !slices.Equal(left, unpaid) {
		t.Errorf("left in the queue %v, want exactly the unpaid orders %v", left, unpaid)
	}
	t.Logf("docker stop with %d payments in flight: stopped after %v, exit 0; final record paid %v, interrupted %v, deleted %v; %d unpaid orders back in the queue; table %v",
		workers, took.Round(time.Millisecond), stopped["paid"], stopped["interrupted"], stopped["deleted"], len(left), countValues(st))
}

// testImageKill: `docker kill` (SIGKILL) in the middle of payments loses
// nothing: the first container's messages come back after the visibility
// timeout, its claims in the orders table run out as long after, and a
// second container pays the rest. The payment provider's books, a file on a
// volume both containers write (the root file system is read-only), hold
// one charge per order.
func testImageKill(t *testing.T, srv *moto.Server) {
	const n, vt = 30, 5
	s := newStack(t, srv, vt, 10)
	store := ordersTable(t, srv, "orders-image-kill")
	dir := t.TempDir()
	// The image's user writes the books.
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	vol := []string{dir + ":/books"}
	args := []string{"--queue-url", s.queueURL, "--orders-table", "orders-image-kill", "--payment-books", "/books/charges", "--workers", "5"}
	ids := s.publish(t, newOrders(t, n)...)
	c1 := runImage(t, srv, "worker-1", vol, append(args, "--payment-delay", "2s")...)
	// Kill it in the middle of its second round of payments.
	var before map[string]float64
	eventually(t, 30*time.Second, func() (bool, string) {
		before = c1.metrics()
		return before[completed] >= 5 && before[inFlight] > 0, fmt.Sprintf("completed %v, in flight %v", before[completed], before[inFlight])
	})
	time.Sleep(500 * time.Millisecond)
	before = c1.metrics()
	if _, err := dockerCmd(30*time.Second, "kill", c1.id); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	if state := c1.inspect("{{.State.Status}} {{.State.ExitCode}}"); state != "exited 137" {
		t.Errorf("after docker kill: %s, want exited 137", state)
	}
	paid1, charged1 := c1.paid()
	if len(paid1) >= n || before[inFlight] == 0 {
		t.Fatalf("killed with %d orders paid and %v in flight; want mid-payment", len(paid1), before[inFlight])
	}
	if c1.record("worker service stopped") != nil {
		t.Error("the killed container logged a final record")
	}

	c2 := runImage(t, srv, "worker-2", vol, append(args, "--payment-delay", "200ms")...)
	poll(t, 90*time.Second, time.Second, func() (bool, string) {
		st := countValues(statuses(t, store, ids))
		q := s.counts(t, s.queueURL)
		return st[string(order.StatusCompleted)] == n && q.Total() == 0, fmt.Sprintf("orders table %v, queue %+v", st, q)
	})
	took := time.Since(killedAt)
	paid2, charged2 := c2.paid()

	charges, charged := chargesIn(t, filepath.Join(dir, "charges"))
	replays := 0
	for _, id := range ids {
		if charges[id] != 1 {
			t.Errorf("order %s charged %d times in the provider's books, want 1", id, charges[id])
		}
		if k := charged1[id] + charged2[id]; k > 1 {
			t.Errorf("order %s: %d charged payment records (worker-1 %d, worker-2 %d), want at most 1", id, k, charged1[id], charged2[id])
		}
		if paid1[id]+paid2[id] == 0 {
			t.Errorf("order %s: no \"order paid\" record", id)
		}
		replays += paid2[id] - charged2[id]
	}
	if c := s.counts(t, s.dlqURL); c.Total() != 0 {
		t.Errorf("dead-letter queue holds %+v, want nothing", c)
	}
	t.Logf("docker kill with %d paid and %v in flight; worker-2 paid the other %d within %v of the kill (visibility timeout %ds), "+
		"%d answered from the idempotency key; %d charges in the books for %d orders, all completed",
		len(paid1), before[inFlight], len(paid2), took.Round(time.Millisecond), vt, replays, charged, n)
}
