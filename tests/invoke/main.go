// Command invoke runs a Lambda bootstrap under aws-lambda-rie and invokes it
// with an event file, printing what the function logged, the emulator's
// REPORT line and the response: `sam local invoke` without Docker. It is
// what `make invoke FN=api|processor EVENT=events/x.json` runs.
//
// The function gets this process's environment. For the API function, when
// ORDERS_TOPIC_ARN is not set, invoke starts a throwaway moto_server, creates
// a topic with an SQS queue subscribed to it and the orders table, points the
// function at them, and after the invocation prints what the queue received.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"flashsale/internal/orderstore/dynamostore"
	"flashsale/internal/queue/sns/snstest"
	"flashsale/internal/testutil/rie"
)

// errFunction is returned when the function itself returned an error, as
// Lambda would retry it: the invocation worked, the function failed.
var errFunction = errors.New("the function returned an error")

func main() {
	fn := flag.String("fn", "processor", "function: api or processor")
	eventPath := flag.String("event", "", "event file to invoke the function with (events/*.json)")
	bootstrap := flag.String("bootstrap", "", "bootstrap binary (default bin/lambda/FN/bootstrap)")
	emulator := flag.String("rie", "", "aws-lambda-rie binary (default: found on PATH, in bin/ or in GOPATH/bin)")
	flag.Parse()
	if err := run(*fn, *eventPath, *bootstrap, *emulator, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "invoke:", err)
		os.Exit(1)
	}
}

func run(fn, eventPath, bootstrap, emulator string, out io.Writer) error {
	if fn != "api" && fn != "processor" {
		return fmt.Errorf("FN=%q: want api or processor", fn)
	}
	if eventPath == "" {
		return errors.New("EVENT is required, for example EVENT=events/sns-order.json")
	}
	event, err := os.ReadFile(eventPath)
	if err != nil {
		return err
	}
	if !json.Valid(event) {
		return fmt.Errorf("%s is not JSON", eventPath)
	}
	if bootstrap == "" {
		bootstrap = "bin/lambda/" + fn + "/bootstrap"
	}
	if emulator == "" {
		if emulator, err = rie.Find("bin"); err != nil {
			return err
		}
	}
	ctx := context.Background()
	env := os.Environ()
	var local *snstest.Fixture
	if fn == "api" && os.Getenv("ORDERS_TOPIC_ARN") == "" {
		var stop func()
		var extra []string
		local, extra, stop, err = localTopic(ctx, out)
		if err != nil {
			return err
		}
		defer stop()
		env = append(env, extra...)
	}
	e, err := rie.Start(ctx, rie.Config{Emulator: emulator, Bootstrap: bootstrap, Env: env, FunctionName: fn})
	if err != nil {
		return err
	}
	defer e.Stop()
	fmt.Fprintf(out, "invoking %s (%s) with %s under %s\n", fn, bootstrap, eventPath, emulator)
	ictx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	inv, err := e.Invoke(ictx, "", event)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "START RequestId: %s\n", inv.RequestID)
	for _, l := range inv.Lines {
		fmt.Fprintln(out, l)
	}
	fmt.Fprintf(out, "END RequestId: %s\n%s\n", inv.RequestID, inv.Report.Line)
	if inits := e.InitReports(); len(inits) > 0 {
		fmt.Fprintf(out, "emulator INIT REPORT: %.2f ms (bootstrap start to its first request for work)\n", inits[0])
	}
	switch {
	case inv.Err != nil:
		fmt.Fprintf(out, "function error: %s\n", inv.Err)
		return fmt.Errorf("%w: %s", errFunction, inv.Err.Type)
	case fn == "api":
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(inv.Response, &resp); err != nil {
			return fmt.Errorf("API response %s: %w", inv.Response, err)
		}
		fmt.Fprintf(out, "response: HTTP %d", resp.StatusCode)
		for k, v := range resp.Headers {
			fmt.Fprintf(out, "  %s: %s", k, v)
		}
		fmt.Fprintf(out, "\n%s\n", strings.TrimSpace(resp.Body))
		if local != nil && resp.StatusCode == http.StatusAccepted {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			m, err := local.Receive(rctx)
			if err != nil {
				return fmt.Errorf("the order did not reach the queue subscribed to the topic: %w", err)
			}
			fmt.Fprintf(out, "the queue subscribed to %s received (order_id attribute %s):\n%s\n", local.TopicARN, m.Attributes["order_id"], m.Body)
		}
	default:
		fmt.Fprintf(out, "response: %s\n", inv.Response)
	}
	return nil
}

// localTopic starts moto_server on a free loopback port with a topic and a
// subscribed queue, and returns the environment that points the function at
// them.
func localTopic(ctx context.Context, out io.Writer) (*snstest.Fixture, []string, func(), error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, nil, nil, errors.New(`ORDERS_TOPIC_ARN is not set and moto_server is not installed: set ORDERS_TOPIC_ARN (and AWS_ENDPOINT_URL_SNS for a local emulator), or pip install "moto[server]"`)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, fmt.Errorf("start moto_server: %w", err)
	}
	stop := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() }
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitHTTP(endpoint+"/moto-api/", 30*time.Second); err != nil {
		stop()
		return nil, nil, nil, fmt.Errorf("moto_server: %w", err)
	}
	const region, key = "us-east-1", "testing" // dummy credentials: moto accepts anything
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region), config.WithBaseEndpoint(endpoint),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(key, key, "")))
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	f, err := snstest.Create(ctx, cfg, "flashsale-orders", true)
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	const table = "flashsale-orders"
	if err := dynamostore.CreateTable(ctx, dynamodb.NewFromConfig(cfg), table); err != nil {
		stop()
		return nil, nil, nil, err
	}
	fmt.Fprintf(out, "started moto_server on %s with topic %s, subscribed queue %s and orders table %s\n", endpoint, f.TopicARN, f.QueueURL, table)
	env := []string{
		"ORDERS_TOPIC_ARN=" + f.TopicARN,
		"ORDERS_TABLE=" + table,
		"AWS_ENDPOINT_URL=" + endpoint,
		"AWS_REGION=" + region,
		"AWS_ACCESS_KEY_ID=" + key,
		"AWS_SECRET_ACCESS_KEY=" + key,
		"AWS_SESSION_TOKEN=",
		"AWS_PROFILE=",
		"AWS_EC2_METADATA_DISABLED=true",
	}
	return f, env, stop, nil
}

func waitHTTP(url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
