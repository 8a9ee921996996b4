package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"flashsale/internal/emf"
	"flashsale/internal/orderstore/dynamostore"
	"flashsale/internal/queue/sns/snstest"
	"flashsale/internal/testutil/emfschema"
	"flashsale/internal/testutil/moto"
	"flashsale/internal/testutil/samcli"
)

// samTimeout bounds one SAM CLI command.
const samTimeout = 5 * time.Minute

// configFile is the project's samconfig.toml, absolute.
var configFile = func() string {
	p, err := filepath.Abs(filepath.Join(repoRoot, "samconfig.toml"))
	if err != nil {
		panic(err)
	}
	return p
}()

// samFunction is the template's logical ID of each function of
// eventExpectations.
var samFunction = map[string]string{"api": "ApiFunction", "processor": "ProcessorFunction"}

// samLocalArgs are the flags of `make sam-invoke` and `make sam-api` for a
// build directory: the built template, events/env.json, this machine's
// architecture, the base image already here, and host.docker.internal mapped
// to the Docker bridge address.
func samLocalArgs(build string) []string {
	return []string{
		"--template", filepath.Join(build, "template.yaml"),
		// SAM reads samconfig.toml beside the template unless told.
		"--config-file", configFile,
		"--env-vars", "events/env.json",
		"--parameter-overrides", "Architecture=" + samcli.Arch(),
		"--skip-pull-image",
		"--add-host", "host.docker.internal:host-gateway",
	}
}

// envJSON reads events/env.json.
func envJSON(t *testing.T) map[string]map[string]string {
	t.Helper()
	var env map[string]map[string]string
	if err := json.Unmarshal(readEvent(t, envFile), &env); err != nil {
		t.Fatalf("events/%s: %v", envFile, err)
	}
	return env
}

// samMoto starts a moto_server on this machine's Docker bridge address, at
// the port events/env.json points the API function at, with the topic of its
// ORDERS_TOPIC_ARN and an SQS queue subscribed to it (raw delivery).
func samMoto(t *testing.T) (*moto.Server, *snstest.Fixture) {
	t.Helper()
	env := envJSON(t)["ApiFunction"]
	u, err := url.Parse(env["AWS_ENDPOINT_URL_SNS"])
	if err != nil || u.Hostname() != "host.docker.internal" {
		t.Fatalf("events/env.json: AWS_ENDPOINT_URL_SNS %q, want http://host.docker.internal:PORT", env["AWS_ENDPOINT_URL_SNS"])
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatalf("events/env.json: AWS_ENDPOINT_URL_SNS %q has no port", u)
	}
	srv := moto.StartOn(t, samcli.BridgeIP(t), port)
	arn := env["ORDERS_TOPIC_ARN"]
	fx := snstest.NewTopicWithQueue(t, srv.Config(t), arn[strings.LastIndex(arn, ":")+1:], true)
	if fx.TopicARN != arn {
		t.Fatalf("moto created topic %s, events/env.json publishes to %s", fx.TopicARN, arn)
	}
	// The orders table both functions record orders in, at the same
	// endpoint.
	for _, fn := range []string{"ApiFunction", "ProcessorFunction"} {
		fe := envJSON(t)[fn]
		if fe["AWS_ENDPOINT_URL_DYNAMODB"] != env["AWS_ENDPOINT_URL_SNS"] || fe["ORDERS_TABLE"] != "flashsale-orders" {
			t.Fatalf("events/env.json: %s has ORDERS_TABLE %q at %q, want flashsale-orders at %s", fn,
				fe["ORDERS_TABLE"], fe["AWS_ENDPOINT_URL_DYNAMODB"], env["AWS_ENDPOINT_URL_SNS"])
		}
	}
	if err := dynamostore.CreateTable(context.Background(), dynamodb.NewFromConfig(srv.Config(t)), "flashsale-orders"); err != nil {
		t.Fatal(err)
	}
	return srv, fx
}

// jsonRecords are the lines of out that are JSON objects with a "function"
// field: what our functions log.
func jsonRecords(out string) []map[string]any {
	var recs []map[string]any
	for l := range strings.Lines(out) {
		var m map[string]any
		// The function's log records; not its EMF records, which name the
		// function too (checked on their own).
		if json.Unmarshal([]byte(strings.TrimSpace(l)), &m) == nil && m["function"] != nil && !emf.IsRecord(m) {
			recs = append(recs, m)
		}
	}
	return recs
}

// functionOutput keeps, of what `sam local invoke` printed on stderr, the
// lines the function's execution environment wrote (START, END, REPORT and
// the function's own), as CloudWatch Logs would hold them; not SAM's own.
func functionOutput(stderr string) []string {
	var lines []string
	for l := range strings.Lines(stderr) {
		l = strings.TrimRight(l, "\r\n")
		switch {
		case strings.HasPrefix(l, "START RequestId:"), strings.HasPrefix(l, "END RequestId:"),
			strings.HasPrefix(l, "REPORT RequestId:"), strings.HasPrefix(l, "{"):
			lines = append(lines, l)
		}
	}
	return lines
}

var flashsaleBin = sync.OnceValues(func() (string, error) {
	dir, err := binaryTempDir("flashsale-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "flashsale")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/flashsale")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/flashsale: %w\n%s", err, out)
	}
	return bin, nil
})

// flashsale runs the flashsale command with stdin and returns its stdout.
func flashsale(t *testing.T, stdin string, env []string, args ...string) string {
	t.Helper()
	bin, err := flashsaleBin()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("flashsale %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// coldCounts is what `flashsale coldstarts --json` reports per function:
// invocations, cold starts, and the init of the function's own records.
type coldCounts struct {
	Invocations int `json:"invocations"`
	ColdStarts  int `json:"cold_starts"`
	AppInit     struct {
		Count int     `json:"count"`
		P50   float64 `json:"p50"`
	} `json:"app_init_ms"`
	Init struct {
		Count int     `json:"count"`
		P50   float64 `json:"p50"`
	} `json:"init_ms"`
}

func coldstarts(t *testing.T, input string) map[string]coldCounts {
	t.Helper()
	var rep struct {
		Summaries []struct {
			Name string `json:"name"`
			coldCounts
		} `json:"summaries"`
	}
	out := flashsale(t, input, nil, "coldstarts", "--json")
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("flashsale coldstarts --json: %v\n%s", err, out)
	}
	m := map[string]coldCounts{}
	for _, s := range rep.Summaries {
		m[s.Name] = s.coldCounts
	}
	return m
}

// TestSAMLocalInvoke runs `sam local invoke` (the real SAM CLI, in a Docker
// container built on the offline base image) on every file of events/ with
// events/env.json, against a moto_server on the Docker bridge; then feeds
// what it printed to `flashsale coldstarts`, directly and through `sam
// logs` reading moto's CloudWatch Logs.
func TestSAMLocalInvoke(t *testing.T) {
	sam := samcli.Bin(t, repoRoot)
	samcli.Docker(t)
	build := samBuild(t, samcli.Arch())
	srv, fx := samMoto(t)
	delay, err := time.ParseDuration(envJSON(t)["ApiFunction"]["PAYMENT_DELAY"])
	if err != nil {
		t.Fatalf("events/env.json PAYMENT_DELAY: %v", err)
	}

	printed := map[string][]string{} // per function: what its environment printed
	invocations := map[string]int{}
	for _, file := range eventFiles(t) {
		want := eventExpectations[file]
		fn := samFunction[want.fn]
		t.Run(file, func(t *testing.T) {
			args := append([]string{"local", "invoke", fn, "--event", "events/" + file}, samLocalArgs(build)...)
			var r samcli.Result
			var recs []map[string]any
			// After the function's response, SAM waits at most a second
			// for the container's output (samcli/local/docker/container.py,
			// wait_for_result) and then removes the container: on a busy
			// machine it can print the response without the function's
			// logs. Such a run is invoked again, twice at most.
			for attempt := 1; ; attempt++ {
				r = samcli.Run(t, sam, repoRoot, samTimeout, nil, args...)
				if r.Err != nil {
					t.Fatalf("sam %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
				}
				t.Logf("sam local invoke %s --event events/%s: %v wall, a new container (cold)", fn, file, r.Took.Round(time.Millisecond))
				if recs = jsonRecords(r.Stderr); len(recs) > 0 || attempt == 3 {
					break
				}
				t.Logf("attempt %d: sam printed the response %q but none of the function's output; invoking again", attempt, strings.TrimSpace(r.Stdout))
			}
			if len(recs) == 0 {
				t.Fatalf("no record of the function in what sam printed, three times:\n%s", r.Stderr)
			}
			// One EMF record per invocation, valid by the specification:
			// a cold start (every sam local invoke starts a container).
			if ems := emfschema.Records(t, []byte(r.Stderr)); len(ems) != 1 || ems[0]["function"] != fn || ems[0]["ColdStart"] != 1.0 {
				t.Errorf("EMF records of %s: %v; want one, of the function, a cold start", fn, ems)
			}
			printed[fn] = append(printed[fn], functionOutput(r.Stderr)...)
			invocations[fn]++
			for _, rec := range recs {
				if rec["function"] != fn || rec["cold_start"] != true {
					t.Errorf("record function %v cold_start %v, want %s and a cold start (every sam local invoke starts a container): %v", rec["function"], rec["cold_start"], fn, rec)
				}
				if ms, ok := rec["init_ms"].(float64); !ok || ms <= 0 {
					t.Errorf("init_ms = %v, want a positive number: %v", rec["init_ms"], rec)
				}
			}
			if want.fn == "processor" {
				checkSAMProcessor(t, r, recs, file, want)
				return
			}
			checkSAMAPI(t, r, fx, file, want, delay)
		})
	}

	direct := map[string]coldCounts{}
	t.Run("coldstarts", func(t *testing.T) {
		var all strings.Builder
		for fn, lines := range printed {
			counts := coldstarts(t, strings.Join(lines, "\n")+"\n")
			c := counts[fn]
			if c.Invocations != invocations[fn] || c.ColdStarts != invocations[fn] || c.AppInit.Count != invocations[fn] || c.Init.Count != invocations[fn] {
				t.Errorf("%s: coldstarts of sam local invoke's output: %+v, want %d invocations, all cold, each with its init", fn, c, invocations[fn])
			}
			direct[fn] = c
			t.Logf("%s: %d cold starts; Init Duration (emulator) p50 %.2f ms; init_ms (function) p50 %.2f ms", fn, c.ColdStarts, c.Init.P50, c.AppInit.P50)
			for _, l := range lines {
				all.WriteString(l + "\n")
			}
		}
	})

	t.Run("sam logs", func(t *testing.T) {
		cw := cloudwatchlogs.NewFromConfig(srv.Config(t))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		groups := map[string]string{"ApiFunction": "/aws/lambda/flashsale-api", "ProcessorFunction": "/aws/lambda/flashsale-processor"}
		args := []string{"logs"}
		for fn, group := range groups {
			args = append(args, "--cw-log-group", group)
			putLogLines(ctx, t, cw, group, printed[fn])
		}
		r := samcli.Run(t, sam, repoRoot, samTimeout, append(srv.Env(), "AWS_ENDPOINT_URL="+srv.Endpoint), args...)
		if r.Err != nil {
			t.Fatalf("sam %s: %v\n%s%s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
		}
		viaLogs := coldstarts(t, r.Stdout)
		for fn, want := range direct {
			got := viaLogs[fn]
			if got.Invocations != want.Invocations || got.ColdStarts != want.ColdStarts || got.AppInit.Count != want.AppInit.Count || got.Init.Count != want.Init.Count {
				t.Errorf("%s: coldstarts through sam logs %+v, directly %+v: want the same counts", fn, got, want)
			}
		}
		if len(viaLogs) != len(direct) {
			t.Errorf("coldstarts through sam logs reports %d functions, directly %d", len(viaLogs), len(direct))
		}
	})
}

// putLogLines writes lines into a new log group of moto's CloudWatch Logs,
// one event per line, a millisecond apart.
func putLogLines(ctx context.Context, t *testing.T, cw *cloudwatchlogs.Client, group string, lines []string) {
	t.Helper()
	stream := "2026/12/01/[$LATEST]" + strconv.FormatInt(time.Now().UnixNano(), 16)
	if _, err := cw.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
		t.Fatalf("create log group %s: %v", group, err)
	}
	if _, err := cw.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)}); err != nil {
		t.Fatalf("create log stream: %v", err)
	}
	start := time.Now().Add(-time.Minute).UnixMilli()
	var evs []cwltypes.InputLogEvent
	for i, l := range lines {
		evs = append(evs, cwltypes.InputLogEvent{Message: aws.String(l), Timestamp: aws.Int64(start + int64(i))})
	}
	if _, err := cw.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), LogEvents: evs}); err != nil {
		t.Fatalf("put %d log events into %s: %v", len(evs), group, err)
	}
}

// checkSAMProcessor checks what `sam local invoke ProcessorFunction`
// answered: the order paid, or, for a malformed message, the function error
// Lambda would retry (SAM itself exits 0 either way).
func checkSAMProcessor(t *testing.T, r samcli.Result, recs []map[string]any, file string, want expectation) {
	t.Helper()
	var ev events.SNSEvent
	if err := json.Unmarshal(readEvent(t, file), &ev); err != nil {
		t.Fatal(err)
	}
	id := ev.Records[0].SNS.MessageAttributes["order_id"].(map[string]any)["Value"]
	var answer struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	_ = json.Unmarshal([]byte(strings.TrimSpace(r.Stdout)), &answer)
	if want.fnErr {
		if answer.ErrorType != "ProcessingError" || !strings.Contains(answer.ErrorMessage, "malformed") {
			t.Errorf("sam local invoke printed %q, want the function's ProcessingError about a malformed order", r.Stdout)
		}
		return
	}
	if strings.TrimSpace(r.Stdout) != "null" {
		t.Errorf("sam local invoke printed %q, want null (no error)", r.Stdout)
	}
	for _, rec := range recs {
		if rec["message"] == "order paid" && rec["order_id"] == id && rec["result"] == "completed" {
			return
		}
	}
	t.Errorf("no `order paid` record for order %v, result completed, in:\n%s", id, r.Stderr)
}

// apiResponse decodes the API function's HTTP API proxy response and its
// JSON body, and checks its status.
func apiResponse(t *testing.T, raw []byte, status int) (events.APIGatewayV2HTTPResponse, map[string]any) {
	t.Helper()
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatalf("response %s: %v", raw, err)
	}
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, resp.Body)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("body %q: %v", resp.Body, err)
	}
	return resp, body
}

// checkSAMAPI checks what `sam local invoke ApiFunction` answered: the HTTP
// API proxy response, and for the async order its message on the queue.
func checkSAMAPI(t *testing.T, r samcli.Result, fx *snstest.Fixture, file string, want expectation, delay time.Duration) {
	t.Helper()
	resp, body := apiResponse(t, []byte(strings.TrimSpace(r.Stdout)), want.status)
	switch file {
	case "api-async.json":
		if body["order_id"] == nil {
			t.Fatalf("202 without an order_id: %s", resp.Body)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for {
			// An earlier attempt's order (see the retry above) may come
			// first.
			m, err := fx.Receive(ctx)
			if err != nil {
				t.Fatalf("the accepted order %v did not reach the subscribed queue: %v", body["order_id"], err)
			}
			if _, err := fx.SQS.DeleteMessage(ctx, deleteInput(fx, m)); err != nil {
				t.Fatal(err)
			}
			var o map[string]any
			if err := json.Unmarshal([]byte(m.Body), &o); err != nil {
				t.Fatalf("queue got %q, not an order", m.Body)
			}
			if o["order_id"] == body["order_id"] {
				break
			}
			t.Logf("queue: order %v of an earlier attempt", o["order_id"])
		}
	case "api-sync.json":
		if body["status"] != "completed" || r.Took < delay {
			t.Errorf("sync: status %v after %v, want completed after the %v payment", body["status"], r.Took, delay)
		}
	case "api-invalid.json":
		if body["error"] == nil || body["field"] == nil {
			t.Errorf("invalid order answered %s, want our JSON error naming the field", resp.Body)
		}
	}
}

// TestSAMLocalStartAPI serves the API with `sam local start-api` (warm
// containers) and sends it real HTTP: `flashsale load` posts async orders,
// every one of which must reach the queue subscribed to the topic; the sync
// route pays; an unknown route is a 404 and a malformed body our JSON 400.
func TestSAMLocalStartAPI(t *testing.T) {
	sam := samcli.Bin(t, repoRoot)
	samcli.Docker(t)
	build := samBuild(t, samcli.Arch())
	_, fx := samMoto(t)
	port := moto.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	// Warm containers: samconfig.toml's warm_containers = "EAGER".
	args := append([]string{"local", "start-api", "--host", "127.0.0.1", "--port", strconv.Itoa(port)}, samLocalArgs(build)...)
	cmd := exec.Command(sam, args...)
	cmd.Dir = repoRoot
	cmd.Env = samcli.Env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, err := os.Create(filepath.Join(t.TempDir(), "start-api.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopSAM(t, cmd, logf.Name()) })

	client := &http.Client{Timeout: time.Minute}
	var ready time.Duration
	for {
		resp, err := client.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ready = time.Since(started)
				break
			}
		}
		if time.Since(started) > 3*time.Minute {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("sam local start-api: GET /health not 200 within 3 minutes (last: %v)\n%s", err, log)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("sam local start-api --warm-containers EAGER: first GET /health 200 after %v", ready.Round(time.Millisecond))

	out := flashsale(t, "", nil, "load", "--url", base, "--scenario", "async", "--rate", "20", "--duration", "3s", "--json", "--quiet")
	var rep struct {
		Load struct {
			Stats struct {
				Requests int     `json:"requests"`
				Failures int     `json:"failures"`
				MedianMS float64 `json:"median_ms"`
				P99MS    float64 `json:"p99_ms"`
			} `json:"stats"`
			Unfinished int `json:"unfinished"`
		} `json:"load"`
	}
	res := &rep.Load
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("flashsale load --json: %v\n%s", err, out)
	}
	accepted := res.Stats.Requests - res.Stats.Failures
	if accepted < 50 || res.Stats.Failures != 0 || res.Unfinished != 0 {
		t.Fatalf("flashsale load through sam local start-api: %d requests, %d failed, %d unfinished; want at least 50, none failed", res.Stats.Requests, res.Stats.Failures, res.Unfinished)
	}
	t.Logf("flashsale load: %d async orders through sam local start-api (warm), median %.1f ms, p99 %.1f ms", accepted, res.Stats.MedianMS, res.Stats.P99MS)
	ids := map[string]bool{}
	dups := 0
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for len(ids) < accepted {
		m, err := fx.Receive(ctx)
		if err != nil {
			t.Fatalf("%d of %d accepted orders reached the queue: %v", len(ids), accepted, err)
		}
		var o struct {
			OrderID string `json:"order_id"`
		}
		if err := json.Unmarshal([]byte(m.Body), &o); err != nil || o.OrderID == "" {
			t.Fatalf("queue message %q is not an order", m.Body)
		}
		if ids[o.OrderID] {
			// Publishing is at least once: when moto drops a connection
			// after it took a Publish, the SDK retries it, and the order
			// arrives twice (consumers recognise it by order_id).
			dups++
		}
		ids[o.OrderID] = true
		if _, err := fx.SQS.DeleteMessage(ctx, deleteInput(fx, m)); err != nil {
			t.Fatal(err)
		}
	}
	if dups > 0 {
		t.Logf("%d of %d orders reached the queue twice (a retried Publish)", dups, accepted)
	}

	tests := []struct {
		name, method, path, ctype, body string
		status                          int
		check                           func(t *testing.T, body map[string]any)
	}{
		{"sync", http.MethodPost, "/orders/sync", "application/json", `{"customer_id":42,"items":[{"product_id":"sku-1","quantity":1,"price":5}]}`, http.StatusOK,
			func(t *testing.T, b map[string]any) {
				if b["status"] != "completed" {
					t.Errorf("sync order status %v, want completed", b["status"])
				}
			}},
		{"unknown route", http.MethodGet, "/nope", "", "", http.StatusNotFound, func(t *testing.T, b map[string]any) {
			if e, _ := b["error"].(string); e == "" {
				t.Errorf("unknown route answered %v, want our JSON error (the $default route reaches the handler)", b)
			}
		}},
		{"wrong method", http.MethodGet, "/orders/async", "", "", http.StatusMethodNotAllowed, nil},
		{"malformed body", http.MethodPost, "/orders/async", "application/json", `{"customer_id": 42,`, http.StatusBadRequest,
			func(t *testing.T, b map[string]any) {
				if e, _ := b["error"].(string); e == "" {
					t.Errorf("malformed body answered %v, want our JSON error", b)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, base+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			t.Logf("%s %s: %d in %v", tt.method, tt.path, resp.StatusCode, time.Since(start).Round(time.Millisecond))
			if resp.StatusCode != tt.status {
				t.Fatalf("%s %s: %d %s, want %d", tt.method, tt.path, resp.StatusCode, data, tt.status)
			}
			if tt.check != nil {
				var b map[string]any
				if err := json.Unmarshal(data, &b); err != nil {
					t.Fatalf("body %q: %v", data, err)
				}
				tt.check(t, b)
			}
		})
	}
}

// stopSAM stops a SAM CLI server with SIGTERM (it then removes its warm
// containers), and kills its process group when it has not stopped within
// 30 s. samcli.Docker's cleanup removes any container left.
func stopSAM(t *testing.T, cmd *exec.Cmd, logPath string) {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
		if left := samcli.Containers(t); len(left) > 0 {
			t.Errorf("sam local start-api stopped and left containers %v", left)
		}
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		log, _ := os.ReadFile(logPath)
		t.Errorf("sam local start-api did not stop within 30 s of SIGTERM: killed\n%s", log)
	}
}
