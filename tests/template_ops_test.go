package tests

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"flashsale/internal/capacity"
	"flashsale/internal/serverless"
	"flashsale/internal/workerservice"
)

// Operating a sale (issue 13, items 1 and 2): template.yaml's alarms and its
// dashboard, checked for each Processor value on the stack that value makes
// (resolveStack): every metric's namespace, name and dimensions, and every
// log group of the Logs Insights widget, must name a resource of that stack
// of the right type, by the attribute CloudWatch knows it by.

// opsRegion and opsStackName stand for ${AWS::Region} and ${AWS::StackName}.
// The stack name is not samconfig.toml's "flashsale", so that a name
// written out for that stack (flashsale-worker) instead of derived from
// ${AWS::StackName} does not pass for the stack's.
const (
	opsRegion    = "eu-west-1"
	opsStackName = "opsstack"
)

// opsParams are the parameter values of a stack with Processor p and
// AlarmEmail email.
func opsParams(p, email string) map[string]string {
	params := processorParams(p)
	if email != "" {
		params["AlarmEmail"] = email
	}
	return params
}

// refToken and attToken stand, in an evaluated string, for what a Ref or
// Fn::GetAtt of a resource gives at deploy time; stackToken reads them back.
func refToken(name string) string       { return "{{Ref " + name + "}}" }
func attToken(name, attr string) string { return "{{GetAtt " + name + "." + attr + "}}" }

var stackToken = regexp.MustCompile(`\{\{(Ref|GetAtt) ([A-Za-z0-9]+)(?:\.([A-Za-z0-9.]+))?\}\}`)

// subVar is a ${...} of Fn::Sub; ${!Literal} stands for ${Literal}.
var subVar = regexp.MustCompile(`\$\{(!?)([^}]*)\}`)

// cfnString evaluates v, a string property of a resource of s (Fn::If
// already resolved), as CloudFormation would with params: parameters and
// pseudo parameters become their values, and a Ref or Fn::GetAtt of a
// resource (also as ${Name} or ${Name.Attr} in Fn::Sub) becomes its token.
// A reference to a resource s does not create is an error.
func (s stack) cfnString(tp template, params map[string]string, v any) (string, error) {
	pseudo := map[string]string{"AWS::Region": opsRegion, "AWS::StackName": opsStackName, "AWS::Partition": "aws",
		"AWS::AccountId": "123456789012", "AWS::URLSuffix": "amazonaws.com"}
	name := func(n string, vars map[string]string) (string, error) {
		if v, ok := vars[n]; ok {
			return v, nil
		}
		if v, ok := pseudo[n]; ok {
			return v, nil
		}
		if get(tp, "Parameters", n) != nil {
			pv := paramValue(tp, n, params)
			if l, ok := pv.([]any); ok {
				var parts []string
				for _, e := range l {
					parts = append(parts, fmt.Sprint(e))
				}
				return strings.Join(parts, ","), nil
			}
			return fmt.Sprint(pv), nil
		}
		if s.resources[n] == nil {
			return "", fmt.Errorf("Ref %s: not a resource of the stack", n)
		}
		return refToken(n), nil
	}
	att := func(res, attr string) (string, error) {
		if s.resources[res] == nil {
			return "", fmt.Errorf("Fn::GetAtt %s.%s: not a resource of the stack", res, attr)
		}
		return attToken(res, attr), nil
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case int, float64, bool:
		return fmt.Sprint(x), nil
	case map[string]any:
		if len(x) != 1 {
			break
		}
		if r, ok := x["Ref"]; ok {
			return name(str(r), nil)
		}
		if r, a := getAtt(x); r != "" {
			return att(r, a)
		}
		if sub, ok := x["Fn::Sub"]; ok {
			text, vars := str(sub), map[string]string{}
			if l := anySlice(sub); len(l) == 2 {
				text = str(l[0])
				vm, _ := l[1].(map[string]any)
				for k, e := range vm {
					ev, err := s.cfnString(tp, params, e)
					if err != nil {
						return "", err
					}
					vars[k] = ev
				}
			}
			var firstErr error
			out := subVar.ReplaceAllStringFunc(text, func(m string) string {
				g := subVar.FindStringSubmatch(m)
				if g[1] == "!" {
					return "${" + g[2] + "}"
				}
				var v string
				var err error
				if res, attr, dotted := strings.Cut(g[2], "."); dotted {
					v, err = att(res, attr)
				} else {
					v, err = name(g[2], vars)
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
				return v
			})
			return out, firstErr
		}
		if j, ok := x["Fn::Join"]; ok {
			args := anySlice(j)
			if len(args) != 2 {
				return "", fmt.Errorf("Fn::Join %v: want a delimiter and a list", j)
			}
			var parts []string
			for _, e := range anySlice(args[1]) {
				p, err := s.cfnString(tp, params, e)
				if err != nil {
					return "", err
				}
				parts = append(parts, p)
			}
			return strings.Join(parts, str(args[0])), nil
		}
	}
	return "", fmt.Errorf("cannot evaluate %v as a string", v)
}

// typed lists the resources of s of type typ exactly (ofType matches a
// prefix: AWS::SQS::Queue would include AWS::SQS::QueuePolicy).
func (s stack) typed(typ string) []string {
	var out []string
	for _, n := range s.names() {
		if str(get(s.resources[n], "Type")) == typ {
			out = append(out, n)
		}
	}
	return out
}

// dimTarget is what a metric dimension's value must be: a Ref of one of
// types (attr "") or their Fn::GetAtt attr; or, for emfWriter, the name an
// EMF writer of the stack gives its records (emfWriters).
type dimTarget struct {
	attr      string
	types     []string
	emfWriter bool
}

// cwNamespace is a CloudWatch namespace the stack's alarms and dashboard
// may use: the metrics they may name in it, and the dimensions each metric
// takes there (all of them), with what each must refer to.
type cwNamespace struct {
	metrics []string
	dims    map[string]dimTarget
}

var (
	ecsCluster = dimTarget{types: []string{"AWS::ECS::Cluster"}}
	ecsService = dimTarget{attr: "Name", types: []string{"AWS::ECS::Service"}}
)

// cwNamespaces: an HTTP API's metrics are 4xx, 5xx, Count, Latency and
// IntegrationLatency by ApiId (a REST API's would be 4XXError and 5XXError
// by ApiName); SNS's by TopicName, SQS's by QueueName, Lambda's by
// FunctionName; ECS's and Container Insights' by ClusterName and
// ServiceName. A metric or dimension not listed here is a mistake until
// it is added, with its target.
var cwNamespaces = map[string]cwNamespace{
	"AWS/ApiGateway": {
		metrics: []string{"Count", "Latency", "IntegrationLatency", "4xx", "5xx", "DataProcessed"},
		dims:    map[string]dimTarget{"ApiId": {types: []string{"AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api"}}},
	},
	"AWS/SNS": {
		metrics: []string{"NumberOfMessagesPublished", "NumberOfNotificationsDelivered", "NumberOfNotificationsFailed",
			"NumberOfNotificationsRedrivenToDlq", "NumberOfNotificationsFailedToRedriveToDlq", "PublishSize"},
		dims: map[string]dimTarget{"TopicName": {attr: "TopicName", types: []string{"AWS::SNS::Topic"}}},
	},
	"AWS/SQS": {
		metrics: []string{"ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed",
			"ApproximateAgeOfOldestMessage", "NumberOfMessagesSent", "NumberOfMessagesReceived", "NumberOfMessagesDeleted", "NumberOfEmptyReceives"},
		dims: map[string]dimTarget{"QueueName": {attr: "QueueName", types: []string{"AWS::SQS::Queue"}}},
	},
	"AWS/Lambda": {
		metrics: []string{"Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions", "AsyncEventsReceived", "AsyncEventAge", "AsyncEventsDropped", "DestinationDeliveryFailures"},
		dims:    map[string]dimTarget{"FunctionName": {types: []string{"AWS::Serverless::Function", "AWS::Lambda::Function"}}},
	},
	"AWS/ECS": {
		metrics: []string{"CPUUtilization", "MemoryUtilization"},
		dims:    map[string]dimTarget{"ClusterName": ecsCluster, "ServiceName": ecsService},
	},
	"ECS/ContainerInsights": {
		metrics: []string{"RunningTaskCount", "DesiredTaskCount", "PendingTaskCount"},
		dims:    map[string]dimTarget{"ClusterName": ecsCluster, "ServiceName": ecsService},
	},
	// Our own: the EMF records of internal/serverless/metrics.go.
	serverless.MetricsNamespace: {
		metrics: []string{serverless.MetricColdStart, serverless.MetricInitDuration, serverless.MetricPaymentDuration},
		dims:    map[string]dimTarget{serverless.DimensionFunction: {emfWriter: true}},
	},
}

// emfOnlyBy names, for a metric of our namespace that not every writer
// writes, the writers that do: the API function's invocations and the
// worker's start-up record carry no PaymentDuration.
var emfOnlyBy = map[string][]string{serverless.MetricPaymentDuration: {"ProcessorFunction"}}

// emfWriters maps each value the "function" dimension of our EMF records
// takes in stack s to the resource writing them: a Lambda function writes
// its name as the runtime sees it (AWS_LAMBDA_FUNCTION_NAME, the function's
// Ref), and a container of a task definition running `flashsale worker`
// the --name of its command (workerservice.DefaultName without one). Only
// the resources of s write.
func (s stack) emfWriters(tp template, params map[string]string) (map[string]string, []string) {
	writers := map[string]string{}
	var errs []string
	for _, fn := range slices.Concat(s.typed("AWS::Serverless::Function"), s.typed("AWS::Lambda::Function")) {
		writers[refToken(fn)] = fn
	}
	for _, td := range s.typed("AWS::ECS::TaskDefinition") {
		for _, c := range anySlice(get(s.resources[td], "Properties", "ContainerDefinitions")) {
			entry := anySlice(get(c, "EntryPoint"))
			// No EntryPoint: the image's own, which runs the worker.
			if len(entry) > 0 && (len(entry) < 2 || filepath.Base(str(entry[0])) != "flashsale" || str(entry[1]) != "worker") {
				continue
			}
			name := workerservice.DefaultName
			cmd := anySlice(get(c, "Command"))
			for i, a := range cmd {
				arg, err := s.cfnString(tp, params, a)
				if err != nil {
					errs = append(errs, fmt.Sprintf("%s: Command: %v", td, err))
					break
				}
				if v, ok := strings.CutPrefix(arg, "--name="); ok {
					name = v
				} else if arg == "--name" && i+1 < len(cmd) {
					if name, err = s.cfnString(tp, params, cmd[i+1]); err != nil {
						errs = append(errs, fmt.Sprintf("%s: Command --name: %v", td, err))
					}
				}
			}
			writers[name] = td
		}
	}
	return writers, errs
}

// emfCharted is the key checkMetric records in its named map for a metric
// of our namespace that writer writes; it cannot be a resource's name.
func emfCharted(metric, writer string) string {
	return serverless.MetricsNamespace + "/" + metric + "/" + writer
}

// checkMetric returns what is wrong with a metric of stack s: namespace,
// name, and dimensions (name to evaluated value). It records in named the
// resources the dimensions name, and for our namespace emfCharted of the
// metric and its writer.
func (s stack) checkMetric(tp template, params map[string]string, where, namespace, metric string, dims map[string]string, named map[string]bool) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, where+": "+fmt.Sprintf(format, args...)) }
	ns, ok := cwNamespaces[namespace]
	if !ok {
		fail("namespace %q is not one the stack's resources publish to", namespace)
		return errs
	}
	if !slices.Contains(ns.metrics, metric) {
		fail("%s has no metric %q (it has %v)", namespace, metric, ns.metrics)
	}
	for d := range ns.dims {
		if _, ok := dims[d]; !ok {
			fail("%s %s: dimension %s is missing", namespace, metric, d)
		}
	}
	resolved := map[string]string{}
	for d, v := range dims {
		target, ok := ns.dims[d]
		if !ok {
			fail("%s %s: dimension %q is not one of %s's", namespace, metric, d, namespace)
			continue
		}
		if target.emfWriter {
			writers, werrs := s.emfWriters(tp, params)
			errs = append(errs, werrs...)
			w, ok := writers[v]
			if !ok {
				fail("%s %s: %s is %q, neither the Ref of a Lambda function of the stack nor the --name of a worker task definition of the stack (%v)", namespace, metric, d, v, slices.Sorted(maps.Keys(writers)))
				continue
			}
			if only := emfOnlyBy[metric]; only != nil && !slices.Contains(only, w) {
				fail("%s %s: %s is %s, which does not write %s (only %v do)", namespace, metric, d, w, metric, only)
				continue
			}
			resolved[d] = w
			named[w] = true
			named[emfCharted(metric, w)] = true
			continue
		}
		m := stackToken.FindStringSubmatch(v)
		if m == nil || m[0] != v {
			fail("%s %s: %s is %q, not a Ref or Fn::GetAtt of a resource of the stack", namespace, metric, d, v)
			continue
		}
		res, attr := m[2], m[3]
		if want := map[bool]string{true: "Ref", false: "GetAtt"}[target.attr == ""]; m[1] != want || attr != target.attr {
			fail("%s %s: %s is %s, want the %s of a %v", namespace, metric, d, v, map[bool]string{true: "Ref", false: "Fn::GetAtt ." + target.attr}[target.attr == ""], target.types)
			continue
		}
		if t := str(get(s.resources[res], "Type")); !slices.Contains(target.types, t) {
			fail("%s %s: %s names %s, a %q, want a %v", namespace, metric, d, res, t, target.types)
			continue
		}
		resolved[d] = res
		named[res] = true
	}
	// The service must run in the cluster named beside it; Container
	// Insights publishes only for a cluster with it enabled.
	if svc, cl := resolved["ServiceName"], resolved["ClusterName"]; svc != "" && cl != "" {
		if c := ref(get(s.resources[svc], "Properties", "Cluster")); c != cl {
			fail("%s %s: service %s runs in cluster %q, not %s", namespace, metric, svc, c, cl)
		}
	}
	if cl := resolved["ClusterName"]; cl != "" && namespace == "ECS/ContainerInsights" {
		on := false
		for _, st := range anySlice(get(s.resources[cl], "Properties", "ClusterSettings")) {
			if get(st, "Name") == "containerInsights" && (get(st, "Value") == "enabled" || get(st, "Value") == "enhanced") {
				on = true
			}
		}
		if !on {
			fail("%s %s: cluster %s does not enable Container Insights (ClusterSettings containerInsights)", namespace, metric, cl)
		}
	}
	return errs
}

// deadLetterQueues lists the queues of s that hold what could not be
// delivered or processed: the dead-letter queues of queues and SNS
// subscriptions, and the functions' on-failure destinations.
func (s stack) deadLetterQueues() []string {
	seen := map[string]bool{}
	for _, n := range s.names() {
		r := s.resources[n]
		for _, v := range []any{
			get(r, "Properties", "RedrivePolicy", "deadLetterTargetArn"),
			get(r, "Properties", "EventInvokeConfig", "DestinationConfig", "OnFailure", "Destination"),
			get(r, "Properties", "DestinationConfig", "OnFailure", "Destination"),
		} {
			if q, _ := getAtt(v); q != "" && str(get(s.resources[q], "Type")) == "AWS::SQS::Queue" {
				seen[q] = true
			}
		}
	}
	var out []string
	for q := range seen {
		out = append(out, q)
	}
	sort.Strings(out)
	return out
}

// alarmMetric is an alarm's metric as "Namespace MetricName Resource".
type alarmMetric struct{ namespace, metric, resource string }

// checkAlarms returns the alarms of s and what is wrong with them: their
// metrics and dimensions, descriptions, missing-data treatment and actions
// (the alarm topic's, when email is set, and none otherwise); and the
// failures they must catch that none does.
func (s stack) checkAlarms(tp template, params map[string]string, email bool) ([]string, []string) {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	alarms := s.typed("AWS::CloudWatch::Alarm")
	watched := map[alarmMetric]string{} // -> alarm
	for _, a := range alarms {
		p := get(s.resources[a], "Properties")
		desc := str(get(p, "AlarmDescription"))
		switch {
		case desc == "":
			fail("%s: no AlarmDescription", a)
		case strings.Contains(desc, "\n") || len(desc) > 1024:
			fail("%s: AlarmDescription is not one line of at most 1024 characters: %q", a, desc)
		case !strings.Contains(desc, "docs/operations.md"):
			fail("%s: AlarmDescription %q does not point at docs/operations.md", a, desc)
		}
		if get(p, "Metrics") != nil {
			fail("%s: metric math (Metrics) is not checked here; name one metric", a)
			continue
		}
		dims := map[string]string{}
		named := map[string]bool{}
		for _, d := range anySlice(get(p, "Dimensions")) {
			v, err := s.cfnString(tp, params, get(d, "Value"))
			if err != nil {
				fail("%s: dimension %v: %v", a, get(d, "Name"), err)
				continue
			}
			dims[str(get(d, "Name"))] = v
		}
		ns, metric := str(get(p, "Namespace")), str(get(p, "MetricName"))
		errs = append(errs, s.checkMetric(tp, params, a, ns, metric, dims, named)...)
		for r := range named {
			watched[alarmMetric{ns, metric, r}] = a
		}
		if get(p, "TreatMissingData") != "notBreaching" {
			fail("%s: TreatMissingData %v, want notBreaching (no data: nothing failed, nothing waits)", a, get(p, "TreatMissingData"))
		}
		thr := get(p, "Threshold")
		if pn := ref(thr); pn != "" {
			if get(tp, "Parameters", pn, "Type") != "Number" {
				fail("%s: Threshold is parameter %s, not a Number", a, pn)
			}
		} else if _, ok := number(thr); !ok {
			fail("%s: Threshold %v is not a number", a, thr)
		}
		for _, k := range []string{"AlarmActions", "OKActions"} {
			acts := get(p, k)
			switch {
			case email && (len(anySlice(acts)) != 1 || ref(anySlice(acts)[0]) != "AlarmTopic"):
				fail("%s: %s %v, want [!Ref AlarmTopic] with AlarmEmail set", a, k, acts)
			case !email && acts != nil:
				fail("%s: %s %v without AlarmEmail, want none", a, k, acts)
			}
		}
	}
	// What must be watched: every dead-letter and failure queue (any
	// message), the age of every queue SNS feeds a service from, every
	// subscribed function's errors and throttles, every HTTP API's 5xx,
	// and the failed deliveries of every topic with a subscription.
	want := map[alarmMetric]bool{}
	for _, q := range s.deadLetterQueues() {
		want[alarmMetric{"AWS/SQS", "ApproximateNumberOfMessagesVisible", q}] = true
	}
	for _, sub := range s.typed("AWS::SNS::Subscription") {
		p := get(s.resources[sub], "Properties")
		to, _ := getAtt(get(p, "Endpoint"))
		switch get(p, "Protocol") {
		case "sqs":
			want[alarmMetric{"AWS/SQS", "ApproximateAgeOfOldestMessage", to}] = true
		case "lambda":
			want[alarmMetric{"AWS/Lambda", "Errors", to}] = true
			want[alarmMetric{"AWS/Lambda", "Throttles", to}] = true
		}
		if topic := ref(get(p, "TopicArn")); topic != "" {
			want[alarmMetric{"AWS/SNS", "NumberOfNotificationsFailed", topic}] = true
			want[alarmMetric{"AWS/SNS", "NumberOfNotificationsFailedToRedriveToDlq", topic}] = true
		}
	}
	for _, api := range s.typed("AWS::Serverless::HttpApi") {
		want[alarmMetric{"AWS/ApiGateway", "5xx", api}] = true
	}
	var missing []string
	for w := range want {
		if _, ok := watched[w]; !ok {
			missing = append(missing, fmt.Sprintf("no alarm on %s %s of %s", w.namespace, w.metric, w.resource))
		}
	}
	sort.Strings(missing)
	errs = append(errs, missing...)
	if a := watched[alarmMetric{"AWS/SQS", "ApproximateAgeOfOldestMessage", "WorkerOrdersQueue"}]; a != "" {
		if th := ref(get(s.resources[a], "Properties", "Threshold")); th != "WorkerQueueAgeAlarmSeconds" {
			fail("%s: Threshold %v, want !Ref WorkerQueueAgeAlarmSeconds", a, get(s.resources[a], "Properties", "Threshold"))
		}
	}
	return alarms, errs
}

// logSource is a SOURCE '...' of a Logs Insights query in a dashboard.
var logSource = regexp.MustCompile(`SOURCE '([^']*)'`)

// checkDashboard returns the titles of the metric and log widgets of the
// stack's dashboard, in order, and what is wrong with it: its body must be
// JSON; each metric (namespace, name, dimensions) must name a resource of
// the stack (checkMetric); each log group of a Logs Insights widget must be
// a log group of the stack, every function's among them, and its query
// must count cold starts in the functions' log format; and every queue,
// topic, HTTP API, ECS service and subscribed function of the stack must be
// on it.
func (s stack) checkDashboard(tp template, params map[string]string) ([]string, []string) {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	boards := s.typed("AWS::CloudWatch::Dashboard")
	if len(boards) != 1 {
		return nil, []string{fmt.Sprintf("dashboards %v, want one", boards)}
	}
	body, err := s.cfnString(tp, params, get(s.resources[boards[0]], "Properties", "DashboardBody"))
	if err != nil {
		return nil, []string{fmt.Sprintf("%s: DashboardBody: %v", boards[0], err)}
	}
	var board struct {
		Widgets []struct {
			Type       string         `json:"type"`
			Width      int            `json:"width"`
			Height     int            `json:"height"`
			X          *int           `json:"x"`
			Y          *int           `json:"y"`
			Properties map[string]any `json:"properties"`
		} `json:"widgets"`
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&board); err != nil {
		return nil, []string{fmt.Sprintf("%s: DashboardBody is not the JSON of a dashboard: %v\n%s", boards[0], err, body)}
	}
	if len(board.Widgets) == 0 {
		fail("the dashboard has no widget")
	}
	var titles []string
	named := map[string]bool{}
	for i, w := range board.Widgets {
		title := str(w.Properties["title"])
		where := fmt.Sprintf("widget %d (%s %q)", i, w.Type, title)
		if w.Width < 1 || w.Width > 24 || w.Height < 1 {
			fail("%s: width %d, height %d: want 1-24 columns and a height", where, w.Width, w.Height)
		}
		if (w.X == nil) != (w.Y == nil) {
			fail("%s: x and y go together", where)
		}
		if w.Type == "text" {
			if str(w.Properties["markdown"]) == "" {
				fail("%s: no markdown", where)
			}
			continue
		}
		if w.Type != "metric" && w.Type != "log" {
			fail("%s: type %q, want text, metric or log", where, w.Type)
			continue
		}
		titles = append(titles, title)
		if title == "" {
			fail("%s: no title", where)
		}
		if r := w.Properties["region"]; r != opsRegion {
			fail("%s: region %v, want the stack's (${AWS::Region})", where, r)
		}
		if w.Type == "log" {
			errs = append(errs, s.checkLogWidget(tp, where, str(w.Properties["query"]))...)
			continue
		}
		metrics := anySlice(w.Properties["metrics"])
		if len(metrics) == 0 {
			fail("%s: no metrics", where)
		}
		for j, m := range metrics {
			at := fmt.Sprintf("%s metric %d", where, j)
			fields := anySlice(m)
			if len(fields) > 0 {
				if _, opts := fields[len(fields)-1].(map[string]any); opts {
					fields = fields[:len(fields)-1]
				}
			}
			if len(fields) < 2 || len(fields)%2 != 0 {
				fail("%s: %v: want [namespace, name, dimension, value, ..., {options}]", at, m)
				continue
			}
			var strs []string
			for _, f := range fields {
				fs, ok := f.(string)
				if !ok || fs == "." || fs == "..." {
					fail("%s: %v: every field a string, without the . and ... shorthands", at, m)
					strs = nil
					break
				}
				strs = append(strs, fs)
			}
			if strs == nil {
				continue
			}
			dims := map[string]string{}
			for k := 2; k+1 < len(strs); k += 2 {
				dims[strs[k]] = strs[k+1]
			}
			errs = append(errs, s.checkMetric(tp, params, at, strs[0], strs[1], dims, named)...)
		}
	}
	var want []string
	want = append(want, s.typed("AWS::SQS::Queue")...)
	want = append(want, s.typed("AWS::Serverless::HttpApi")...)
	want = append(want, s.typed("AWS::ECS::Service")...)
	for _, sub := range s.typed("AWS::SNS::Subscription") {
		want = append(want, ref(get(s.resources[sub], "Properties", "TopicArn")))
		if get(s.resources[sub], "Properties", "Protocol") == "lambda" {
			fn, _ := getAtt(get(s.resources[sub], "Properties", "Endpoint"))
			want = append(want, fn)
		}
	}
	for _, r := range want {
		if !named[r] {
			fail("the dashboard charts no metric of %s", r)
		}
	}
	// Every EMF writer that runs (a function with events, or subscribed to
	// a topic; a worker task definition) has its cold starts and init
	// charted, and its payments when it writes them.
	var running []string
	for _, fn := range s.typed("AWS::Serverless::Function") {
		if len(anyMap(get(s.resources[fn], "Properties", "Events"))) > 0 {
			running = append(running, fn)
		}
	}
	for _, sub := range s.typed("AWS::SNS::Subscription") {
		if get(s.resources[sub], "Properties", "Protocol") == "lambda" {
			fn, _ := getAtt(get(s.resources[sub], "Properties", "Endpoint"))
			running = append(running, fn)
		}
	}
	running = append(running, s.typed("AWS::ECS::TaskDefinition")...)
	for _, w := range running {
		for _, m := range cwNamespaces[serverless.MetricsNamespace].metrics {
			if only := emfOnlyBy[m]; only != nil && !slices.Contains(only, w) {
				continue
			}
			if !named[emfCharted(m, w)] {
				fail("the dashboard charts no %s %s of %s", serverless.MetricsNamespace, m, w)
			}
		}
	}
	return titles, errs
}

// anyMap is v as a JSON object, or nil.
func anyMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

// checkLogWidget returns what is wrong with the query of a Logs Insights
// widget: its sources must be log groups of the stack, every function's
// among them, and it must count cold starts and their init duration (p50,
// p99) per function and per 5 minutes, in the functions' log format.
func (s stack) checkLogWidget(tp template, where, query string) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, where+": "+fmt.Sprintf(format, args...)) }
	sources := map[string]bool{}
	for _, m := range logSource.FindAllStringSubmatch(query, -1) {
		t := stackToken.FindStringSubmatch(m[1])
		if t == nil || t[0] != m[1] || t[1] != "Ref" || str(get(s.resources[t[2]], "Type")) != "AWS::Logs::LogGroup" {
			fail("SOURCE %q is not a Ref of a log group of the stack", m[1])
			continue
		}
		sources[t[2]] = true
	}
	for _, fn := range s.typed("AWS::Serverless::Function") {
		lc := get(s.resources[fn], "Properties", "LoggingConfig")
		lg := ref(get(lc, "LogGroup"))
		if lg == "" {
			fail("function %s has no log group of the stack (LoggingConfig.LogGroup)", fn)
			continue
		}
		if !sources[lg] {
			fail("the query does not read %s, the log group of %s", lg, fn)
		}
		// JSON: platform.report records; Text: REPORT lines.
		format := str(get(lc, "LogFormat"))
		if format == "" {
			format = str(get(tp, "Globals", "Function", "LoggingConfig", "LogFormat"))
		}
		var need []string
		if format == "JSON" {
			need = []string{`type = "platform.report"`, "record.metrics.initDurationMs"}
		} else {
			need = []string{`@type = "REPORT"`, "@initDuration"}
		}
		for _, n := range need {
			if !strings.Contains(query, n) {
				fail("%s logs in format %q: the query lacks %s", fn, format, n)
			}
		}
	}
	for _, n := range []string{"count(*)", ", 50)", ", 99)", "bin(5m)", "@log"} {
		if !strings.Contains(query, n) {
			fail("the query lacks %s (cold starts and init p50 and p99 per function per 5 minutes)", n)
		}
	}
	return errs
}

// opsAlarms are the alarms of each Processor value.
var opsAlarms = map[string][]string{
	"lambda": {"ApiServerErrorsAlarm", "OrdersDeadLetterQueueAlarm", "OrdersTopicFailedDeliveriesAlarm", "OrdersTopicRedriveFailedAlarm",
		"ProcessorErrorsAlarm", "ProcessorFailureQueueAlarm", "ProcessorThrottlesAlarm"},
	"service": {"ApiServerErrorsAlarm", "OrdersDeadLetterQueueAlarm", "OrdersTopicFailedDeliveriesAlarm", "OrdersTopicRedriveFailedAlarm",
		"ProcessorFailureQueueAlarm", "WorkerDeadLetterQueueAlarm", "WorkerQueueAgeAlarm", "WorkerSubscriptionDeadLetterQueueAlarm"},
	"both": {"ApiServerErrorsAlarm", "OrdersDeadLetterQueueAlarm", "OrdersTopicFailedDeliveriesAlarm", "OrdersTopicRedriveFailedAlarm",
		"ProcessorErrorsAlarm", "ProcessorFailureQueueAlarm", "ProcessorThrottlesAlarm",
		"WorkerDeadLetterQueueAlarm", "WorkerQueueAgeAlarm", "WorkerSubscriptionDeadLetterQueueAlarm"},
}

// The dashboard's metric and log widgets, by row.
var (
	apiWidgets       = []string{"API requests", "API latency (ms)", "API 4xx and 5xx", "API function: concurrency, errors, throttles"}
	topicWidgets     = []string{"SNS published, delivered, failed", "SNS redrives to dead-letter queues", "Orders in dead-letter and failure queues"}
	processorWidgets = []string{"Processor invocations", "Processor duration (ms)", "Processor concurrent executions", "Processor errors and throttles"}
	workerWidgets    = []string{"Worker queue: visible messages", "Worker queue: oldest message age (s)", "Worker queue: in flight",
		"Worker tasks", "Worker CPU and memory (% of the tasks' reservation)"}
	// The EMF row: its payment widget is the processor's, where it runs.
	emfWidgets = []string{"EMF cold starts per function (ColdStart, sum)", "EMF cold-start share of invocations (ColdStart, average)",
		"EMF init duration (ms) per function, p50 and p99 (InitDuration)"}
	emfPaymentWidgets = []string{"EMF processor payment duration (ms) (PaymentDuration)"}
	coldStartWidgets  = []string{"Cold starts and init duration (ms) per function, per 5 minutes"}
)

// opsWidgets are the dashboard's metric and log widgets of each Processor
// value, in order.
var opsWidgets = map[string][]string{
	"lambda":  slices.Concat(apiWidgets, topicWidgets, processorWidgets, emfWidgets, emfPaymentWidgets, coldStartWidgets),
	"service": slices.Concat(apiWidgets, topicWidgets, workerWidgets, emfWidgets, coldStartWidgets),
	"both":    slices.Concat(apiWidgets, topicWidgets, processorWidgets, workerWidgets, emfWidgets, emfPaymentWidgets, coldStartWidgets),
}

// TestTemplateAlarms: for each Processor value, with and without
// AlarmEmail, the stack's alarms watch what that value runs and only what
// it creates, and notify the alarm topic exactly when there is one.
func TestTemplateAlarms(t *testing.T) {
	tp := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
	for _, processor := range []string{"lambda", "service", "both"} {
		for _, email := range []string{"", "ops@example.com"} {
			t.Run(fmt.Sprintf("%s/email=%q", processor, email), func(t *testing.T) {
				params := opsParams(processor, email)
				s, err := resolveStack(tp, params)
				if err != nil {
					t.Fatal(err)
				}
				alarms, errs := s.checkAlarms(tp, params, email != "")
				for _, e := range errs {
					t.Error(e)
				}
				if !slices.Equal(alarms, opsAlarms[processor]) {
					t.Errorf("alarms %v, want %v", alarms, opsAlarms[processor])
				}
				topic, hasTopic := s.resources["AlarmTopic"]
				if hasTopic != (email != "") {
					t.Fatalf("AlarmTopic in the stack: %v with AlarmEmail %q", hasTopic, email)
				}
				var subs []string
				for _, n := range s.typed("AWS::SNS::Subscription") {
					if ref(get(s.resources[n], "Properties", "TopicArn")) == "AlarmTopic" {
						subs = append(subs, n)
					}
				}
				if len(subs) > 0 {
					t.Errorf("subscriptions %v to AlarmTopic: the topic subscribes the address itself", subs)
				}
				if _, ok := s.outputs["AlarmTopicArn"]; ok != hasTopic {
					t.Errorf("output AlarmTopicArn: %v, want %v", ok, hasTopic)
				}
				if !hasTopic {
					return
				}
				sub := anySlice(get(topic, "Properties", "Subscription"))
				if len(sub) != 1 || get(sub[0], "Protocol") != "email" || ref(get(sub[0], "Endpoint")) != "AlarmEmail" {
					t.Errorf("AlarmTopic: Subscription %v, want one email subscription of !Ref AlarmEmail", sub)
				}
			})
		}
	}
}

// TestTemplateDashboard: for each Processor value, the dashboard's body is
// JSON whose every metric and log group names a resource of the stack, and
// it holds the charts of what that value runs.
func TestTemplateDashboard(t *testing.T) {
	tp := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
	for _, processor := range []string{"lambda", "service", "both"} {
		t.Run(processor, func(t *testing.T) {
			params := opsParams(processor, "")
			s, err := resolveStack(tp, params)
			if err != nil {
				t.Fatal(err)
			}
			titles, errs := s.checkDashboard(tp, params)
			for _, e := range errs {
				t.Error(e)
			}
			if !slices.Equal(titles, opsWidgets[processor]) {
				t.Errorf("widgets\n%q\nwant\n%q", titles, opsWidgets[processor])
			}
		})
	}
}

// opsBreak changes a copy of the template; the checks must notice.
type opsBreak struct {
	name      string
	processor string
	email     string
	change    func(t *testing.T, tp template)
	want      string
}

// copyTemplate is a deep copy of tp.
func copyTemplate(t *testing.T, tp template) template {
	t.Helper()
	data, err := json.Marshal(tp)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return template(out)
}

// editBody replaces the first old by new in the first fragment of the
// dashboard's body that holds it.
func editBody(old, new string) func(t *testing.T, tp template) { return editBodyN(old, new, 1) }

// editBodyN replaces n old by new (every one for n -1) in the first
// fragment of the dashboard's body that holds it.
func editBodyN(old, new string, n int) func(t *testing.T, tp template) {
	return func(t *testing.T, tp template) {
		t.Helper()
		// walk replaces in the first string under v that holds old, which
		// set stores in its place.
		var walk func(v any, set func(string)) bool
		walk = func(v any, set func(string)) bool {
			switch x := v.(type) {
			case string:
				if strings.Contains(x, old) {
					set(strings.Replace(x, old, new, n))
					return true
				}
			case map[string]any:
				for k, e := range x {
					if walk(e, func(s string) { x[k] = s }) {
						return true
					}
				}
			case []any:
				for i, e := range x {
					if walk(e, func(s string) { x[i] = s }) {
						return true
					}
				}
			}
			return false
		}
		body, ok := get(tp.resources()["OperationsDashboard"], "Properties", "DashboardBody").(map[string]any)
		if !ok || !walk(body, nil) {
			t.Fatalf("the dashboard's body has no %q to change", old)
		}
	}
}

// editAlarm changes the properties (or, with prop "", the resource) of an
// alarm.
func editAlarm(alarm string, edit func(r map[string]any)) func(t *testing.T, tp template) {
	return func(t *testing.T, tp template) {
		t.Helper()
		r, ok := tp.resources()[alarm].(map[string]any)
		if !ok {
			t.Fatalf("no alarm %s to change", alarm)
		}
		edit(r)
	}
}

// TestTemplateOpsChecksCatchMistakes breaks the alarms and the dashboard in
// the ways the checks above must notice.
func TestTemplateOpsChecksCatchMistakes(t *testing.T) {
	src := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
	props := func(r map[string]any) map[string]any { p, _ := r["Properties"].(map[string]any); return p }
	tests := []opsBreak{
		{"dashboard charts the worker queue of a lambda stack", "lambda", "",
			editBody("${ProcessorFailureQueue.QueueName}", "${WorkerOrdersQueue.QueueName}"), "WorkerOrdersQueue.QueueName: not a resource of the stack"},
		{"REST API metric name on an HTTP API", "lambda", "", editBody(`"5xx", "ApiId"`, `"5XXError", "ApiId"`), `has no metric "5XXError"`},
		{"REST API dimension on an HTTP API", "both", "", editBody(`"Count", "ApiId"`, `"Count", "ApiName"`), `dimension "ApiName" is not one of AWS/ApiGateway's`},
		{"queue metric of a topic", "both", "", editBody(`"QueueName", "${OrdersDeadLetterQueue.QueueName}"`, `"QueueName", "${OrdersTopic.TopicName}"`), "want the Fn::GetAtt .QueueName"},
		{"function by its ARN", "lambda", "", editBody(`"FunctionName", "${ProcessorFunction}"`, `"FunctionName", "${ProcessorFunction.Arn}"`), "want the Ref of a"},
		{"literal queue name", "lambda", "", editBody(`"${ProcessorFailureQueue.QueueName}"`, `"flashsale-failures"`), `not a Ref or Fn::GetAtt`},
		{"service without its cluster", "service", "", editBody(`"ClusterName", "${WorkerCluster}", "ServiceName", "${WorkerService.Name}", {"label": "running"}`, `"ServiceName", "${WorkerService.Name}", {"label": "running"}`), "dimension ClusterName is missing"},
		{"body not JSON", "lambda", "", editBody(`"metrics": [`, `"metrics": `), "is not the JSON of a dashboard"},
		{"log widget reads a group the stack does not create", "lambda", "", editBody(`SOURCE '${ApiLogGroup}'`, `SOURCE '/aws/lambda/other'`), `SOURCE "/aws/lambda/other" is not a Ref of a log group`},
		{"log widget misses the processor's log group", "both", "", editBody(` | SOURCE '${ProcessorLogGroup}'`, ""), "does not read ProcessorLogGroup"},
		{"log widget queries the text format", "lambda", "", editBody(`filter type = \"platform.report\"`, `filter @type = \"REPORT\"`), `lacks type = "platform.report"`},
		{"no chart of the worker queue", "service", "", editBodyN("${WorkerOrdersQueue.QueueName}\"", "${WorkerDeadLetterQueue.QueueName}\"", -1), "the dashboard charts no metric of WorkerOrdersQueue"},
		{"EMF metric of the worker in a lambda stack", "lambda", "",
			editBody(`"ColdStart", "function", "${ApiFunction}"`, `"ColdStart", "function", "${AWS::StackName}-worker"`), `function is "opsstack-worker", neither the Ref of a Lambda function`},
		{"EMF worker named for the stack flashsale only", "service", "",
			editBody("${AWS::StackName}-worker", "flashsale-worker"), `function is "flashsale-worker", neither`},
		{"EMF function named by its log group", "lambda", "",
			editBody(`"ColdStart", "function", "${ApiFunction}"`, `"ColdStart", "function", "${AWS::StackName}-api"`), `function is "opsstack-api", neither`},
		{"EMF function by its ARN", "both", "",
			editBody(`"InitDuration", "function", "${ApiFunction}"`, `"InitDuration", "function", "${ApiFunction.Arn}"`), `function is "{{GetAtt ApiFunction.Arn}}", neither`},
		{"EMF payments of the API function", "lambda", "",
			editBody(`"PaymentDuration", "function", "${ProcessorFunction}"`, `"PaymentDuration", "function", "${ApiFunction}"`), "function is ApiFunction, which does not write PaymentDuration"},
		{"EMF metric name we do not write", "both", "", editBody(`"flashsale", "ColdStart"`, `"flashsale", "ColdStarts"`), `flashsale has no metric "ColdStarts"`},
		{"EMF init of the processor not charted", "both", "",
			editBodyN(`"InitDuration", "function", "${ProcessorFunction}"`, `"ColdStart", "function", "${ProcessorFunction}"`, -1), "the dashboard charts no flashsale InitDuration of ProcessorFunction"},
		{"EMF cold starts of the worker not charted", "service", "",
			editBody(`,["flashsale", "ColdStart", "function", "${AWS::StackName}-worker", {"label": "worker service starts"}]`, ""), "the dashboard charts no flashsale ColdStart of WorkerTaskDefinition"},
		{"worker renamed in its task definition only", "both", "",
			func(t *testing.T, tp template) {
				c := anySlice(get(tp.resources()["WorkerTaskDefinition"], "Properties", "ContainerDefinitions"))[0].(map[string]any)
				cmd := anySlice(c["Command"])
				i := slices.Index(cmd, any("--name"))
				if i < 0 || i+1 >= len(cmd) {
					t.Fatalf("WorkerTaskDefinition: no --name in %v", cmd)
				}
				cmd[i+1] = map[string]any{"Fn::Sub": "${AWS::StackName}-payments"}
			}, `function is "opsstack-worker", neither`},
		{"alarm on a queue the stack does not create", "lambda", "",
			editAlarm("WorkerQueueAgeAlarm", func(r map[string]any) { delete(r, "Condition") }), "WorkerOrdersQueue.QueueName: not a resource of the stack"},
		{"dead-letter queue without alarm", "lambda", "",
			func(t *testing.T, tp template) { delete(tp.resources(), "ProcessorFailureQueueAlarm") }, "no alarm on AWS/SQS ApproximateNumberOfMessagesVisible of ProcessorFailureQueue"},
		{"worker dead-letter queue without alarm", "both", "",
			func(t *testing.T, tp template) { delete(tp.resources(), "WorkerSubscriptionDeadLetterQueueAlarm") }, "of WorkerSubscriptionDeadLetterQueue"},
		{"processor throttles unwatched", "both", "",
			func(t *testing.T, tp template) { delete(tp.resources(), "ProcessorThrottlesAlarm") }, "no alarm on AWS/Lambda Throttles of ProcessorFunction"},
		{"alarm without actions though AlarmEmail is set", "lambda", "ops@example.com",
			editAlarm("ApiServerErrorsAlarm", func(r map[string]any) { delete(props(r), "AlarmActions") }), "ApiServerErrorsAlarm: AlarmActions <nil>, want [!Ref AlarmTopic]"},
		{"alarm notifying without AlarmEmail", "lambda", "",
			editAlarm("ApiServerErrorsAlarm", func(r map[string]any) { props(r)["OKActions"] = []any{"arn:aws:sns:eu-west-1:123456789012:x"} }), "OKActions [arn:aws:sns:eu-west-1:123456789012:x] without AlarmEmail"},
		{"description of two lines", "lambda", "",
			editAlarm("ProcessorErrorsAlarm", func(r map[string]any) { props(r)["AlarmDescription"] = "failed.\nsee docs/operations.md" }), "not one line"},
		{"missing data breaching", "service", "",
			editAlarm("WorkerQueueAgeAlarm", func(r map[string]any) { props(r)["TreatMissingData"] = "breaching" }), "TreatMissingData breaching"},
		{"age alarm on a fixed threshold", "service", "",
			editAlarm("WorkerQueueAgeAlarm", func(r map[string]any) { props(r)["Threshold"] = 600 }), "want !Ref WorkerQueueAgeAlarmSeconds"},
		{"ECS task count without Container Insights", "service", "",
			func(t *testing.T, tp template) {
				delete(props(tp.resources()["WorkerCluster"].(map[string]any)), "ClusterSettings")
			}, "does not enable Container Insights"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := copyTemplate(t, src)
			tt.change(t, tp)
			params := opsParams(tt.processor, tt.email)
			s, err := resolveStack(tp, params)
			if err != nil {
				t.Fatal(err)
			}
			_, alarmErrs := s.checkAlarms(tp, params, tt.email != "")
			titles, boardErrs := s.checkDashboard(tp, params)
			errs := strings.Join(slices.Concat(alarmErrs, boardErrs), "\n")
			if !strings.Contains(errs, tt.want) {
				t.Errorf("checks found\n%s\nwant a finding containing %q (widgets %q)", errs, tt.want, titles)
			}
		})
	}
}

// TestWorkerQueueAgeDefault: WorkerQueueAgeAlarmSeconds's default is the
// capacity model's longest time an order of the study's burst (studyBurst)
// spends in the
// worker queue (waiting, then in payment: the queue's oldest message) when
// the scaling never adds a task to MinTasks: the drain time of the backlog
// plus one payment (Plan.ConfirmationTime(1)), at the template's own
// defaults for PaymentDelay, MinTasks and WorkersPerTask.
func TestWorkerQueueAgeDefault(t *testing.T) {
	tp := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
	def := func(name string) any { return get(tp, "Parameters", name, "Default") }
	delay, err := time.ParseDuration(str(def("PaymentDelay")))
	if err != nil {
		t.Fatalf("PaymentDelay default: %v", err)
	}
	tasks, ok1 := number(def("MinTasks"))
	perTask, ok2 := number(def("WorkersPerTask"))
	if !ok1 || !ok2 {
		t.Fatalf("MinTasks %v, WorkersPerTask %v: not numbers", def("MinTasks"), def("WorkersPerTask"))
	}
	rate, err := strconv.ParseFloat(studyBurst.rate, 64)
	if err != nil {
		t.Fatal(err)
	}
	burst, err := time.ParseDuration(studyBurst.burst)
	if err != nil {
		t.Fatal(err)
	}
	p, err := capacity.PlanBurst(capacity.Burst{Rate: rate, Duration: burst, PaymentDelay: delay, Workers: int(tasks * perTask)})
	if err != nil {
		t.Fatal(err)
	}
	oldest := p.ConfirmationTime(1)
	if oldest != p.DrainTime+delay {
		t.Fatalf("ConfirmationTime(1) %v is not the drain time %v plus one payment %v", oldest, p.DrainTime, delay)
	}
	want := int(oldest.Round(time.Second) / time.Second)
	got, ok := number(def("WorkerQueueAgeAlarmSeconds"))
	if !ok || int(got) != want {
		t.Errorf("WorkerQueueAgeAlarmSeconds default %v, want %d: %d workers (MinTasks %v x WorkersPerTask %v) drain the study's burst (%v orders/s for %v, %v payments) in %v, and its last order is paid %v after it arrived",
			def("WorkerQueueAgeAlarmSeconds"), want, p.Workers, tasks, perTask, rate, burst, delay, p.DrainTime, oldest)
	}
	// The description states the figures it was derived from.
	desc := strings.Join(strings.Fields(str(get(tp, "Parameters", "WorkerQueueAgeAlarmSeconds", "Description"))), " ")
	for _, n := range []string{fmt.Sprintf("%d s", want), fmt.Sprintf("%d workers", p.Workers), fmt.Sprintf("%d s,", int(p.DrainTime.Seconds()))} {
		if !strings.Contains(desc, n) {
			t.Errorf("WorkerQueueAgeAlarmSeconds: Description %q does not say %q", desc, n)
		}
	}
}

// TestTemplateOpsLint: cfn-lint passes the template with AlarmEmail set
// and the service running, where the alarm topic and every alarm and widget
// exist (TestCfnLint and TestTemplateProcessor lint the other values).
func TestTemplateOpsLint(t *testing.T) {
	cfnLint := requireTool(t, "cfn-lint", `pip install cfn-lint`)
	path := withDefaults(t, opsParams("both", "ops@example.com"))
	if out, err := exec.Command(cfnLint, path).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("cfn-lint with Processor=both AlarmEmail=ops@example.com: %v\n%s", err, out)
	}
}

// TestDocsOperations: docs/operations.md lists every alarm of the template
// and no other, and names every widget of the dashboard.
func TestDocsOperations(t *testing.T) {
	tp := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
	listed := docTableNames(t, "docs/operations.md", "| alarm |")
	var declared []string
	for name := range tp.resources() {
		if tp.typeOf(name) == "AWS::CloudWatch::Alarm" {
			declared = append(declared, name)
			if _, ok := listed[name]; !ok {
				t.Errorf("docs/operations.md: the alarm table lacks %s", name)
			}
		}
	}
	for name := range listed {
		if !slices.Contains(declared, name) {
			t.Errorf("docs/operations.md lists alarm %s, which template.yaml does not declare", name)
		}
	}
	data, err := os.ReadFile(filepath.Join(repoRoot, "docs/operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range opsWidgets["both"] {
		if !strings.Contains(string(data), w) {
			t.Errorf("docs/operations.md does not name the widget %q", w)
		}
	}
	_, live, ok := strings.Cut(string(data), "\n## Watching cold starts live\n")
	if !ok {
		t.Fatal("docs/operations.md has no section \"## Watching cold starts live\"")
	}
	live, _, _ = strings.Cut(live, "\n## ")
	// The section is written (no placeholder left), shows --follow both
	// ways with its flags, and names our namespace and its metrics.
	for _, want := range []string{"coldstarts --follow", "--follow-interval", "--follow-lookback", "--log-group",
		"Custom namespaces > " + serverless.MetricsNamespace, "`" + serverless.DimensionFunction + "`",
		serverless.MetricColdStart, serverless.MetricInitDuration, serverless.MetricPaymentDuration} {
		if !strings.Contains(live, want) {
			t.Errorf("docs/operations.md, Watching cold starts live: does not say %q", want)
		}
	}
	if strings.Contains(live, "(see below)") {
		t.Error("docs/operations.md, Watching cold starts live: the placeholder \"(see below)\" is still there")
	}
	// Every log group it names is one the template creates, for the stack
	// samconfig.toml deploys (flashsale).
	groups := map[string]bool{}
	for name := range tp.resources() {
		if tp.typeOf(name) == "AWS::Logs::LogGroup" {
			lg := get(tp.resources()[name], "Properties", "LogGroupName")
			groups[strings.ReplaceAll(str(get(lg, "Fn::Sub")), "${AWS::StackName}", "flashsale")] = true
		}
	}
	for _, m := range regexp.MustCompile("--(?:cw-)?log-group ([^\\s`]+)").FindAllStringSubmatch(live, -1) {
		if !groups[m[1]] {
			t.Errorf("docs/operations.md, Watching cold starts live: %s is not a log group of the stack flashsale (%v)", m[1], slices.Sorted(maps.Keys(groups)))
		}
	}
}
