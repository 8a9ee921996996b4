package tests

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"flashsale/internal/emf"
	"flashsale/internal/order"
	"flashsale/internal/orderstore"
	"flashsale/internal/orderstore/dynamostore"
	"flashsale/internal/queue/sns/snstest"
	"flashsale/internal/serverless"
	"flashsale/internal/testutil/emfschema"
	"flashsale/internal/testutil/moto"
	"flashsale/internal/testutil/rie"
)

// startEmulator runs bootstrap under aws-lambda-rie for the test and stops
// it (SIGKILL) at cleanup, showing its output if the test failed.
func startEmulator(t *testing.T, emulator, name, bootstrap string, env []string) *rie.Emulator {
	t.Helper()
	e, err := rie.Start(context.Background(), rie.Config{Emulator: emulator, Bootstrap: bootstrap, Env: env, FunctionName: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Stop()
		if t.Failed() {
			t.Logf("%s emulator stdout:\n%s\nstderr:\n%s", name, e.Output(), e.Diagnostics())
		}
	})
	return e
}

func invoke(t *testing.T, e *rie.Emulator, event []byte) *rie.Invocation {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	inv, err := e.Invoke(ctx, "", event)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Status != http.StatusOK {
		t.Fatalf("emulator answered HTTP %d: %s", inv.Status, inv.Response)
	}
	return inv
}

// jsonLogs are the JSON lines the function printed during an invocation.
func jsonLogs(inv *rie.Invocation) []map[string]any {
	var out []map[string]any
	for _, l := range inv.Lines {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && !emf.IsRecord(m) {
			out = append(out, m)
		}
	}
	return out
}

// checkMetrics checks the invocation's EMF records against the
// specification (our JSON schema of it and emf.Validate): one record, of the function,
// in namespace flashsale, ColdStart 1 with an InitDuration on a cold start
// and 0 without one otherwise.
func checkMetrics(t *testing.T, inv *rie.Invocation, function string, cold bool) map[string]any {
	t.Helper()
	recs := emfschema.Records(t, []byte(strings.Join(inv.Lines, "\n")))
	if len(recs) != 1 {
		t.Errorf("%d EMF records in %q, want one per invocation", len(recs), inv.Lines)
		return nil
	}
	r := recs[0]
	wantCold := 0.0
	if cold {
		wantCold = 1
	}
	dirs := r["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)
	ns := dirs[0].(map[string]any)["Namespace"]
	initMS, hasInit := r[serverless.MetricInitDuration].(float64)
	if ns != serverless.MetricsNamespace || r["function"] != function || r["request_id"] != inv.RequestID ||
		r[serverless.MetricColdStart] != wantCold || hasInit != cold || (cold && initMS <= 0) {
		t.Errorf("EMF record %v: want namespace %s, function %s, request_id %s, ColdStart %v and InitDuration only on a cold start",
			r, serverless.MetricsNamespace, function, inv.RequestID, wantCold)
	}
	return r
}

// checkColdStartFields checks the cold-start fields of every JSON log line
// of an invocation, and the REPORT line's Init Duration.
func checkColdStartFields(t *testing.T, inv *rie.Invocation, function string, cold bool) []map[string]any {
	t.Helper()
	logs := jsonLogs(inv)
	if len(logs) == 0 {
		t.Fatalf("no JSON log line in %q", inv.Lines)
	}
	for _, l := range logs {
		if l["cold_start"] != cold {
			t.Errorf("cold_start = %v, want %v: %v", l["cold_start"], cold, l)
		}
		initMS, has := l["init_ms"].(float64)
		if has != cold || (cold && initMS <= 0) {
			t.Errorf("init_ms = %v (present %v), want a positive number only on a cold start: %v", l["init_ms"], has, l)
		}
		readyMS, hasReady := l["ready_ms"].(float64)
		if hasReady != cold || (cold && (readyMS <= 0 || readyMS > initMS)) {
			t.Errorf("ready_ms = %v (present %v), want a positive number up to init_ms %v only on a cold start: %v", l["ready_ms"], hasReady, l["init_ms"], l)
		}
		if l["request_id"] != inv.RequestID || l["function"] != function {
			t.Errorf("request_id %v function %v, want %s and %s", l["request_id"], l["function"], inv.RequestID, function)
		}
	}
	if inv.Report.HasInit != cold {
		t.Errorf("REPORT line %q: Init Duration present %v, want %v", inv.Report.Line, inv.Report.HasInit, cold)
	}
	checkMetrics(t, inv, function, cold)
	return logs
}

func hasMessage(logs []map[string]any, msg string) map[string]any {
	for _, l := range logs {
		if l["message"] == msg {
			return l
		}
	}
	return nil
}

// TestLambdasUnderEmulator runs both bootstraps under aws-lambda-rie against
// a moto_server and invokes every file of events/.
func TestLambdasUnderEmulator(t *testing.T) {
	emulator := rie.Require(t, filepath.Join(repoRoot, "bin"))
	srv := moto.Start(t)
	cfg := srv.Config(t)
	b := bootstraps(t)
	topic := snstest.NewTopicWithQueue(t, cfg, "flashsale-orders", true)
	table := newOrdersTable(t, cfg)
	base := setEnv(srv.Env(), "PAYMENT_DELAY=300ms", "ORDERS_TABLE="+table)
	const apiName, procName = "flashsale-api", "flashsale-processor"
	emulators := map[string]*rie.Emulator{
		"api":       startEmulator(t, emulator, apiName, b["api"], append(base, "ORDERS_TOPIC_ARN="+topic.TopicARN)),
		"processor": startEmulator(t, emulator, procName, b["processor"], base),
	}
	names := map[string]string{"api": apiName, "processor": procName}
	count := map[string]int{}

	for _, file := range eventFiles(t) {
		want := eventExpectations[file]
		t.Run(file, func(t *testing.T) {
			count[want.fn]++
			cold := count[want.fn] == 1
			event := readEvent(t, file)
			inv := invoke(t, emulators[want.fn], event)
			logs := checkColdStartFields(t, inv, names[want.fn], cold)
			if want.fn == "processor" {
				checkProcessor(t, inv, logs, event, want)
				return
			}
			if inv.Err != nil {
				t.Fatalf("API function error: %v", inv.Err)
			}
			_, body := apiResponse(t, inv.Response, want.status)
			if l := hasMessage(logs, "request"); l == nil || l["status"] != float64(want.status) {
				t.Errorf("no request log line with status %d: %v", want.status, logs)
			}
			switch file {
			case "api-async.json":
				checkPublished(t, topic, event, body)
			case "api-sync.json":
				if body["status"] != "completed" || body["order_id"] != "sync-demo-0001" {
					t.Errorf("sync body %v, want order sync-demo-0001 completed", body)
				}
			case "api-invalid.json":
				if body["error"] == "" || body["field"] == nil {
					t.Errorf("invalid body %v, want error and field", body)
				}
			case "api-health.json":
				if body["status"] != "ok" {
					t.Errorf("health body %v", body)
				}
			}
		})
	}

	t.Run("processor warm invocations", func(t *testing.T) {
		proc := emulators["processor"]
		fresh := withOrderID(t, readEvent(t, "sns-order.json"), "01JGZ8Q4M6V3T9N2K7D5R1XWZZ")
		inv := invoke(t, proc, fresh)
		logs := checkColdStartFields(t, inv, procName, false)
		if inv.Err != nil || hasMessage(logs, "order paid") == nil {
			t.Fatalf("fresh order: err %v, logs %v", inv.Err, logs)
		}
		if inv.Report.DurationMS < 300 {
			t.Errorf("Duration %.1f ms: the 300 ms payment did not run", inv.Report.DurationMS)
		}
		// A redelivery of an order this environment paid is not paid twice.
		inv = invoke(t, proc, readEvent(t, "sns-order.json"))
		logs = checkColdStartFields(t, inv, procName, false)
		if inv.Err != nil || hasMessage(logs, "order already finished: duplicate delivery skipped") == nil {
			t.Fatalf("duplicate: err %v, logs %v", inv.Err, logs)
		}
	})

	// SNS delivers at least once and Lambda retries: the same event three
	// times, to two execution environments sharing the orders table, pays
	// the order once.
	t.Run("one payment for three deliveries", func(t *testing.T) {
		const id = "01JGZ8Q4M6V3T9N2K7D5R1XW3X"
		event := withOrderID(t, readEvent(t, "sns-order.json"), id)
		other := startEmulator(t, emulator, procName, b["processor"], base)
		paid := 0
		for i, e := range []*rie.Emulator{emulators["processor"], other, emulators["processor"]} {
			inv := invoke(t, e, event)
			if inv.Err != nil {
				t.Fatalf("delivery %d: function error %v", i+1, inv.Err)
			}
			logs := jsonLogs(inv)
			if l := hasMessage(logs, "order paid"); l != nil {
				paid++
			} else if hasMessage(logs, "order already finished: duplicate delivery skipped") == nil {
				t.Errorf("delivery %d: neither paid nor skipped: %v", i+1, logs)
			}
		}
		if paid != 1 {
			t.Errorf("%d payments for three deliveries, want 1", paid)
		}
		rec := getRecord(t, cfg, table, id)
		if rec.Status() != order.StatusCompleted || rec.Attempts != 1 || !strings.HasPrefix(rec.Holder, "processor/") || rec.PaidAt.IsZero() {
			t.Errorf("record %+v: want completed at the first attempt by a processor request", rec)
		}
	})

	t.Run("GET the order after the 202", func(t *testing.T) {
		inv := invoke(t, emulators["api"], readEvent(t, "api-async.json"))
		_, body := apiResponse(t, inv.Response, http.StatusAccepted)
		id, _ := body["order_id"].(string)
		inv = invoke(t, emulators["api"], statusEvent(t, id))
		_, body = apiResponse(t, inv.Response, http.StatusOK)
		if body["order_id"] != id || body["status"] != "pending" || body["created_at"] == nil {
			t.Errorf("GET /orders/%s = %v, want the order, pending", id, body)
		}
		inv = invoke(t, emulators["api"], statusEvent(t, "01JGZ8Q4M6V3T9N2K7D5R1XWQQ"))
		apiResponse(t, inv.Response, http.StatusNotFound)
		inv = invoke(t, emulators["api"], statusEvent(t, "bad.id"))
		if _, body = apiResponse(t, inv.Response, http.StatusBadRequest); body["field"] != "order_id" {
			t.Errorf("bad id: %v, want the field order_id named", body)
		}
		// The processor pays the order the API published, and GET says so.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m, err := topic.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := topic.SQS.DeleteMessage(ctx, deleteInput(topic, m)); err != nil {
			t.Fatal(err)
		}
		published, err := order.Unmarshal([]byte(m.Body))
		if err != nil || published.ID != id {
			t.Fatalf("published %s (%v), want order %s", m.Body, err, id)
		}
		// A message under the order_id with another payload is never paid.
		inv = invoke(t, emulators["processor"], withOrderID(t, readEvent(t, "sns-order.json"), id))
		if inv.Err == nil || hasMessage(jsonLogs(inv), "order_id recorded with another payload: never paid, sent to the failure destination after retries") == nil {
			t.Errorf("forged message: function error %v, logs %v; want an error and the conflict logged", inv.Err, jsonLogs(inv))
		}
		if inv := invoke(t, emulators["processor"], withOrder(t, readEvent(t, "sns-order.json"), published)); inv.Err != nil {
			t.Fatalf("processor: %v", inv.Err)
		}
		inv = invoke(t, emulators["api"], statusEvent(t, id))
		_, body = apiResponse(t, inv.Response, http.StatusOK)
		if body["status"] != "completed" || body["paid_at"] == nil || body["attempts"] != 1.0 {
			t.Errorf("GET after the payment = %v, want completed, paid_at, one attempt", body)
		}
	})

	t.Run("declined payment is final", func(t *testing.T) {
		declining := startEmulator(t, emulator, procName, b["processor"],
			setEnv(base, "PAYMENT_DECLINE_RATE=1", "ORDERS_TABLE="+newOrdersTable(t, cfg)))
		inv := invoke(t, declining, readEvent(t, "sns-order.json"))
		logs := checkColdStartFields(t, inv, procName, true)
		if inv.Err != nil {
			t.Fatalf("function error %v, want none: a decline is an outcome, which Lambda must not retry", inv.Err)
		}
		if l := hasMessage(logs, "payment declined: final, not retried"); l == nil || l["result"] != "declined" || l["level"] != "WARN" {
			t.Errorf("no declined log line: %v", logs)
		}
		// SNS delivers it again: not charged again.
		inv = invoke(t, declining, readEvent(t, "sns-order.json"))
		logs = checkColdStartFields(t, inv, procName, false)
		if inv.Err != nil || hasMessage(logs, "order already finished: duplicate delivery skipped") == nil {
			t.Errorf("redelivered declined order: err %v, logs %v", inv.Err, logs)
		}
	})

	t.Run("publish failure answers 503", func(t *testing.T) {
		missing := strings.TrimSuffix(topic.TopicARN, "flashsale-orders") + "no-such-topic"
		api := startEmulator(t, emulator, apiName, b["api"], append(base, "ORDERS_TOPIC_ARN="+missing))
		inv := invoke(t, api, readEvent(t, "api-async.json"))
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(inv.Response, &resp); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Headers["Retry-After"] == "" {
			t.Fatalf("status %d headers %v, want 503 with Retry-After: %s", resp.StatusCode, resp.Headers, resp.Body)
		}
	})

	// With an SNS endpoint that accepts connections and never answers, or a
	// payment longer than the function's timeout, the function still answers
	// its own JSON error before Lambda times the invocation out: the
	// handler's deadline ends a second before the Lambda deadline.
	t.Run("answers before the Lambda timeout", func(t *testing.T) {
		silent := snstest.Silent(t)
		tests := []struct {
			name, event string
			env         []string
			status      int
		}{
			{"silent SNS endpoint", "api-async.json", []string{"AWS_ENDPOINT_URL_SNS=" + silent}, http.StatusServiceUnavailable},
			{"payment past the deadline", "api-sync.json", []string{"PAYMENT_DELAY=10s"}, http.StatusGatewayTimeout},
		}
		const timeout = 4 * time.Second // PUBLISH_TIMEOUT (5s) and REQUEST_TIMEOUT (25s) unset: their defaults are longer
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				// A table of its own: the sync event's order_id is paid above.
				env := setEnv(base, "ORDERS_TOPIC_ARN="+topic.TopicARN, "ORDERS_TABLE="+newOrdersTable(t, cfg))
				e, err := rie.Start(context.Background(), rie.Config{Emulator: emulator, Bootstrap: b["api"],
					Env: append(env, tt.env...), FunctionName: apiName, Timeout: timeout})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					e.Stop()
					if t.Failed() {
						t.Logf("emulator stdout:\n%s\nstderr:\n%s", e.Output(), e.Diagnostics())
					}
				})
				inv := invoke(t, e, readEvent(t, tt.event))
				if inv.Err != nil {
					t.Fatalf("function error %v: the invocation timed out instead of answering", inv.Err)
				}
				var resp events.APIGatewayV2HTTPResponse
				if err := json.Unmarshal(inv.Response, &resp); err != nil {
					t.Fatalf("response %s: %v", inv.Response, err)
				}
				if resp.StatusCode != tt.status {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, resp.Body)
				}
				var body map[string]any
				if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body["error"] == nil {
					t.Errorf("body %q is not our JSON error: %v", resp.Body, err)
				}
				if tt.status == http.StatusServiceUnavailable && resp.Headers["Retry-After"] == "" {
					t.Errorf("503 without Retry-After: headers %v", resp.Headers)
				}
				if d := inv.Report.DurationMS; d <= 0 || d >= float64(timeout.Milliseconds()) {
					t.Errorf("REPORT Duration %.1f ms, want an answer within the %v timeout", d, timeout)
				}
			})
		}
	})

	t.Run("nothing else published", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		if m, err := topic.Receive(ctx); err == nil {
			t.Fatalf("the queue received an unexpected message: %s", m.Body)
		} else if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
	})
}

// checkPublished checks that the queue subscribed to the topic received
// exactly the order the API accepted.
func checkPublished(t *testing.T, topic *snstest.Fixture, event []byte, body map[string]any) {
	t.Helper()
	id, _ := body["order_id"].(string)
	if id == "" || body["status"] != "pending" {
		t.Fatalf("async body %v, want an order_id and status pending", body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := topic.Receive(ctx)
	if err != nil {
		t.Fatalf("the accepted order did not reach the topic: %v", err)
	}
	got, err := order.Unmarshal([]byte(m.Body))
	if err != nil {
		t.Fatalf("published message %q: %v", m.Body, err)
	}
	var ev events.APIGatewayV2HTTPRequest
	_ = json.Unmarshal(event, &ev)
	raw, _ := base64.StdEncoding.DecodeString(ev.Body)
	var req order.Request
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	if got.ID != id || m.Attributes["order_id"] != id || got.CustomerID != req.CustomerID ||
		!slices.Equal(got.Items, req.Items) || got.Status != order.StatusPending {
		t.Fatalf("published %+v (attribute %q), want order %s of %+v", got, m.Attributes["order_id"], id, req)
	}
	if _, err := topic.SQS.DeleteMessage(context.Background(), deleteInput(topic, m)); err != nil {
		t.Fatal(err)
	}
}

func checkProcessor(t *testing.T, inv *rie.Invocation, logs []map[string]any, event []byte, want expectation) {
	t.Helper()
	var ev events.SNSEvent
	if err := json.Unmarshal(event, &ev); err != nil {
		t.Fatal(err)
	}
	id := ev.Records[0].SNS.MessageAttributes["order_id"].(map[string]any)["Value"]
	if want.fnErr {
		if inv.Err == nil || inv.Err.Type != "ProcessingError" {
			t.Fatalf("function error %v, want a ProcessingError (so Lambda retries, then uses the failure destination)", inv.Err)
		}
		l := hasMessage(logs, "malformed order message: sent to the failure destination after retries")
		if l == nil || l["level"] != "ERROR" || l["order_id"] != id {
			t.Errorf("no ERROR log line for the malformed message of order %v: %v", id, logs)
		}
		return
	}
	if inv.Err != nil {
		t.Fatalf("function error: %v", inv.Err)
	}
	if l := hasMessage(logs, "order paid"); l == nil || l["order_id"] != id || l["result"] != "completed" {
		t.Errorf("no 'order paid' log line for %v: %v", id, logs)
	}
}

// withOrderID rewrites an SNS order event for another order ID.
func withOrderID(t *testing.T, event []byte, id string) []byte {
	t.Helper()
	var ev events.SNSEvent
	if err := json.Unmarshal(event, &ev); err != nil {
		t.Fatal(err)
	}
	o, err := order.Unmarshal([]byte(ev.Records[0].SNS.Message))
	if err != nil {
		t.Fatal(err)
	}
	o.ID = id
	return withOrder(t, event, o)
}

// withOrder rewrites an SNS order event to carry o.
func withOrder(t *testing.T, event []byte, o order.Order) []byte {
	t.Helper()
	var ev events.SNSEvent
	if err := json.Unmarshal(event, &ev); err != nil {
		t.Fatal(err)
	}
	id := o.ID
	msg, _ := order.Marshal(o)
	ev.Records[0].SNS.Message = string(msg)
	ev.Records[0].SNS.MessageAttributes["order_id"] = map[string]any{"Type": "String", "Value": id}
	out, _ := json.Marshal(ev)
	return out
}

// coldStart is one cold start measured under the emulator.
type coldStart struct {
	rapidInitMS  float64 // the emulator's INIT REPORT: bootstrap start to first /next
	reportInitMS float64 // the REPORT line's Init Duration
	appInitMS    float64 // init_ms logged by the function (0 for hello)
}

// TestColdStarts compares, in one run, the cold starts of both bootstraps
// with a hello-world Go Lambda built the same way: each is started fresh
// under the emulator FLASHSALE_COLDSTART_RUNS times (3 by default) and
// invoked once.
func TestColdStarts(t *testing.T) {
	emulator := rie.Require(t, filepath.Join(repoRoot, "bin"))
	b := bootstraps(t)
	runs := 3
	if s := os.Getenv("FLASHSALE_COLDSTART_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("FLASHSALE_COLDSTART_RUNS=%q", s)
		}
		runs = n
	}
	// The functions as deployed: with the orders table (on moto; the API's
	// health check and the processor's order reach no other endpoint).
	srv := moto.Start(t)
	env := setEnv(srv.Env(), "PAYMENT_DELAY=1ms", "ORDERS_TOPIC_ARN=arn:aws:sns:us-east-1:123456789012:unused",
		"ORDERS_TABLE="+newOrdersTable(t, srv.Config(t)))
	cases := []struct{ name, event string }{
		{"hello", `{}`},
		{"processor", string(readEvent(t, "sns-order.json"))},
		{"api", string(readEvent(t, "api-health.json"))}, // health: init and routing, no network
	}
	var table []string
	for _, c := range cases {
		var samples []coldStart
		for range runs {
			e, err := rie.Start(context.Background(), rie.Config{Emulator: emulator, Bootstrap: b[c.name], Env: env, FunctionName: c.name})
			if err != nil {
				t.Fatal(err)
			}
			inv, err := e.Invoke(context.Background(), "", []byte(c.event))
			inits := e.InitReports()
			e.Stop()
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if inv.Err != nil || !inv.Report.HasInit || len(inits) != 1 || inits[0] <= 0 {
				t.Fatalf("%s: function error %v, REPORT %q, INIT REPORTs %v: want one cold start", c.name, inv.Err, inv.Report.Line, inits)
			}
			s := coldStart{rapidInitMS: inits[0], reportInitMS: inv.Report.InitMS}
			if c.name != "hello" {
				logs := jsonLogs(inv)
				if len(logs) == 0 {
					t.Fatalf("%s: no log line", c.name)
				}
				s.appInitMS, _ = logs[0]["init_ms"].(float64)
				if s.appInitMS <= 0 {
					t.Fatalf("%s: init_ms %v", c.name, logs[0]["init_ms"])
				}
			}
			samples = append(samples, s)
		}
		st, _ := os.Stat(b[c.name])
		med := func(f func(coldStart) float64) float64 {
			v := make([]float64, len(samples))
			for i, s := range samples {
				v[i] = f(s)
			}
			sort.Float64s(v)
			return v[len(v)/2]
		}
		table = append(table, fmt.Sprintf("%-9s %6.2f MB  emulator INIT REPORT median %6.2f ms (min %6.2f)  REPORT Init Duration %5.2f ms  init_ms %6.2f ms",
			c.name, float64(st.Size())/1e6, med(func(s coldStart) float64 { return s.rapidInitMS }),
			slices.MinFunc(samples, func(a, b coldStart) int { return cmp.Compare(a.rapidInitMS, b.rapidInitMS) }).rapidInitMS,
			med(func(s coldStart) float64 { return s.reportInitMS }), med(func(s coldStart) float64 { return s.appInitMS })))
	}
	t.Logf("cold starts under aws-lambda-rie %s, %d runs each, GOARCH host:\n%s", rie.Version, runs, strings.Join(table, "\n"))
}

func deleteInput(f *snstest.Fixture, m *snstest.Message) *sqs.DeleteMessageInput {
	return &sqs.DeleteMessageInput{QueueUrl: aws.String(f.QueueURL), ReceiptHandle: aws.String(m.ReceiptHandle)}
}

// setEnv returns env with each KEY=value of kv set, replacing the key's
// earlier value.
func setEnv(env []string, kv ...string) []string {
	out := slices.Clone(env)
	for _, e := range kv {
		key, _, _ := strings.Cut(e, "=")
		out = slices.DeleteFunc(out, func(x string) bool { return strings.HasPrefix(x, key+"=") })
		out = append(out, e)
	}
	return out
}

var tables atomic.Int64

// newOrdersTable creates an orders table of its own on the emulator of cfg.
func newOrdersTable(t *testing.T, cfg aws.Config) string {
	t.Helper()
	name := fmt.Sprintf("orders-%d", tables.Add(1))
	if err := dynamostore.CreateTable(context.Background(), dynamodb.NewFromConfig(cfg), name); err != nil {
		t.Fatal(err)
	}
	return name
}

// getRecord reads an order's record from a table on the emulator.
func getRecord(t *testing.T, cfg aws.Config, table, id string) orderstore.Record {
	t.Helper()
	s, err := dynamostore.New(dynamodb.NewFromConfig(cfg), dynamostore.Config{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("record of %s: %v", id, err)
	}
	return rec
}

// statusEvent is the API Gateway event of GET /orders/{id}.
func statusEvent(t *testing.T, id string) []byte {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(readEvent(t, "api-health.json"), &ev); err != nil {
		t.Fatal(err)
	}
	ev.RouteKey = "GET /orders/{id}"
	ev.RawPath = "/orders/" + id
	ev.RequestContext.HTTP.Path = ev.RawPath
	ev.RequestContext.RouteKey = ev.RouteKey
	ev.PathParameters = map[string]string{"id": id}
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
