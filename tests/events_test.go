package tests

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"flashsale/internal/httpapi"
	"flashsale/internal/order"
	"flashsale/internal/orderstore/memstore"
)

// expectation is what invoking a file of events/ must give.
type expectation struct {
	fn        string // "api" or "processor"
	status    int    // api: the HTTP status of the proxy response
	publishes bool   // api: exactly one order reaches the topic
	fnErr     bool   // processor: the function returns an error
}

var eventExpectations = map[string]expectation{
	"api-async.json":     {fn: "api", status: http.StatusAccepted, publishes: true},
	"api-sync.json":      {fn: "api", status: http.StatusOK},
	"api-health.json":    {fn: "api", status: http.StatusOK},
	"api-invalid.json":   {fn: "api", status: http.StatusBadRequest},
	"sns-order.json":     {fn: "processor"},
	"sns-malformed.json": {fn: "processor", fnErr: true},
}

// envFile is the --env-vars file of `make sam-invoke`, not an event.
const envFile = "env.json"

// eventFiles lists events/*.json (but env.json), sorted, and checks that
// each has an expectation and each expectation a file.
func eventFiles(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repoRoot, "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		name := filepath.Base(p)
		if name == envFile {
			continue
		}
		if _, ok := eventExpectations[name]; !ok {
			t.Errorf("events/%s has no expectation in eventExpectations: say what invoking it must give", name)
			continue
		}
		names = append(names, name)
	}
	for name := range eventExpectations {
		if _, err := os.Stat(filepath.Join(repoRoot, "events", name)); err != nil {
			t.Errorf("events/%s is missing", name)
		}
	}
	sort.Strings(names)
	return names
}

func readEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeStrict decodes data into v, rejecting unknown fields: a misspelt key
// in an event file would otherwise be silently ignored.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// TestEventFiles checks the shape of each sample event: the shape of
// `sam local generate-event apigateway http-api-proxy` (payload 2.0, base64
// body) and `sam local generate-event sns notification`.
func TestEventFiles(t *testing.T) {
	for _, name := range eventFiles(t) {
		t.Run(name, func(t *testing.T) {
			data := readEvent(t, name)
			switch eventExpectations[name].fn {
			case "api":
				var ev events.APIGatewayV2HTTPRequest
				if err := decodeStrict(data, &ev); err != nil {
					t.Fatalf("not an HTTP API (payload 2.0) event: %v", err)
				}
				h := ev.RequestContext.HTTP
				if ev.Version != "2.0" || ev.RouteKey != h.Method+" "+ev.RawPath || ev.RequestContext.RouteKey != ev.RouteKey ||
					h.Path != ev.RawPath || ev.RequestContext.Stage != "$default" || ev.RequestContext.RequestID == "" {
					t.Errorf("inconsistent event: version %q routeKey %q/%q method %q rawPath %q path %q stage %q",
						ev.Version, ev.RouteKey, ev.RequestContext.RouteKey, h.Method, ev.RawPath, h.Path, ev.RequestContext.Stage)
				}
				if h.Method == "POST" {
					if !ev.IsBase64Encoded {
						t.Errorf("POST body is not base64 (sam local generate-event writes it so)")
					}
					body, err := base64.StdEncoding.DecodeString(ev.Body)
					if err != nil || !json.Valid(body) {
						t.Errorf("body %q does not decode to JSON: %v", ev.Body, err)
					}
					if ev.Headers["content-type"] != "application/json" {
						t.Errorf("content-type header %q, want application/json", ev.Headers["content-type"])
					}
				}
			case "processor":
				var ev events.SNSEvent
				if err := decodeStrict(data, &ev); err != nil {
					t.Fatalf("not an SNS event: %v", err)
				}
				if len(ev.Records) != 1 {
					t.Fatalf("%d records, want 1 (SNS delivers one per invocation)", len(ev.Records))
				}
				r := ev.Records[0]
				if r.EventSource != "aws:sns" || r.EventVersion != "1.0" || r.SNS.Type != "Notification" || !strings.HasPrefix(r.SNS.TopicArn, "arn:aws:sns:") {
					t.Errorf("not an SNS notification record: %+v", r)
				}
				attr, _ := r.SNS.MessageAttributes["order_id"].(map[string]any)
				if attr["Type"] != "String" || attr["Value"] == "" {
					t.Errorf("order_id message attribute = %v", attr)
				}
				o, err := order.Unmarshal([]byte(r.SNS.Message))
				if malformed := eventExpectations[name].fnErr; malformed != (err != nil) {
					t.Errorf("order.Unmarshal: %v (the file is meant malformed: %v)", err, malformed)
				}
				if err == nil && o.ID != attr["Value"] {
					t.Errorf("order_id attribute %v, order %s", attr["Value"], o.ID)
				}
			}
		})
	}
	var env map[string]map[string]string
	if err := decodeStrict(readEvent(t, envFile), &env); err != nil {
		t.Fatalf("events/%s: %v", envFile, err)
	}
	tp := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
	for fn := range env {
		if tp.typeOf(fn) != "AWS::Serverless::Function" {
			t.Errorf("events/%s sets variables of %s, which is not a function of template.yaml", envFile, fn)
		}
	}
}

type recordingPublisher struct {
	mu  sync.Mutex
	got []order.Order
	err error
}

func (p *recordingPublisher) Publish(ctx context.Context, o order.Order) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	p.got = append(p.got, o)
	return nil
}

type instantPayer struct{}

func (instantPayer) Pay(ctx context.Context, o order.Order) error { return ctx.Err() }

// TestEventFilesThroughAdapter runs the API events through the same adapter
// and handler as functions/api, in process: base64 bodies decode, and each
// event gets its status.
func TestEventFilesThroughAdapter(t *testing.T) {
	for _, name := range eventFiles(t) {
		want := eventExpectations[name]
		if want.fn != "api" {
			continue
		}
		for _, publishFails := range []bool{false, true} {
			pub := &recordingPublisher{}
			if publishFails {
				pub.err = errors.New("sns: connection refused")
			}
			store, err := memstore.New(memstore.Config{})
			if err != nil {
				t.Fatal(err)
			}
			api, err := httpapi.New(httpapi.Config{Publisher: pub, Payer: instantPayer{}, Store: store, RequestTimeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(readEvent(t, name), &ev); err != nil {
				t.Fatal(err)
			}
			resp, err := httpadapter.NewV2(api).ProxyWithContext(context.Background(), ev)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			status := want.status
			if publishFails && want.publishes {
				status = http.StatusServiceUnavailable // never 202 for an order not published
			}
			if resp.StatusCode != status {
				t.Errorf("%s (publish fails: %v): status %d, want %d: %s", name, publishFails, resp.StatusCode, status, resp.Body)
			}
			if status == http.StatusServiceUnavailable && resp.Headers["Retry-After"] == "" {
				t.Errorf("%s: 503 without Retry-After: %v", name, resp.Headers)
			}
			if n := len(pub.got); (n == 1) != (want.publishes && !publishFails) || n > 1 {
				t.Errorf("%s (publish fails: %v): %d orders published", name, publishFails, n)
			}
		}
	}
}
