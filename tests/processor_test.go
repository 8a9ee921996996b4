package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"flashsale/internal/testutil/samcli"
)

// The Processor parameter: lambda (the processor function subscribed to
// OrdersTopic), service (the worker queue subscribed, drained by the ECS
// service), both. cfn-lint cannot take parameter values, so each value is
// checked on a copy of the template whose defaults are that value's (and,
// for the service, an image, subnets and a VPC), and the conditions of the
// SAM-transformed copy are resolved here for that value.

// processorParams are the parameter values of a stack with Processor p: the
// service's inputs are given when it runs.
func processorParams(p string) map[string]string {
	params := map[string]string{"Processor": p}
	if p != "lambda" {
		params["WorkerImage"] = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/flashsale@sha256:" + strings.Repeat("0", 64)
		params["Subnets"] = "subnet-0123456789abcdef0,subnet-0123456789abcdef1"
		params["VpcId"] = "vpc-0123456789abcdef0"
	}
	return params
}

// paramValue is the value of parameter name in a stack given params (its
// default otherwise): a string, or a list of strings for a
// CommaDelimitedList.
func paramValue(tp template, name string, params map[string]string) any {
	v, ok := params[name]
	if !ok {
		v = fmt.Sprint(get(tp, "Parameters", name, "Default"))
	}
	if get(tp, "Parameters", name, "Type") == "CommaDelimitedList" {
		if v == "" {
			return []any{""}
		}
		var out []any
		for _, e := range strings.Split(v, ",") {
			out = append(out, strings.TrimSpace(e))
		}
		return out
	}
	return v
}

// evalFn evaluates the functions of conditions and rules (Fn::Equals,
// Fn::Not, Fn::And, Fn::Or, Fn::Contains, Fn::EachMemberEquals, Fn::Join,
// Condition, Ref) with params.
func evalFn(tp template, v any, params map[string]string) (any, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		if s, ok := v.([]any); ok {
			out := make([]any, len(s))
			for i, e := range s {
				var err error
				if out[i], err = evalFn(tp, e, params); err != nil {
					return nil, err
				}
			}
			return out, nil
		}
		return fmt.Sprint(v), nil
	}
	for fn, arg := range m {
		args := anySlice(arg)
		evalArgs := func() ([]any, error) {
			out := make([]any, len(args))
			for i, a := range args {
				var err error
				if out[i], err = evalFn(tp, a, params); err != nil {
					return nil, err
				}
			}
			return out, nil
		}
		boolArgs := func() ([]bool, error) {
			vals, err := evalArgs()
			if err != nil {
				return nil, err
			}
			out := make([]bool, len(vals))
			for i, v := range vals {
				b, ok := v.(bool)
				if !ok {
					return nil, fmt.Errorf("%s: argument %v is not a condition", fn, v)
				}
				out[i] = b
			}
			return out, nil
		}
		switch fn {
		case "Ref":
			name := str(arg)
			if get(tp, "Parameters", name) == nil {
				return nil, fmt.Errorf("Ref %s: not a parameter", name)
			}
			return paramValue(tp, name, params), nil
		case "Condition":
			c := get(tp, "Conditions", str(arg))
			if c == nil {
				return nil, fmt.Errorf("no condition %v", arg)
			}
			return evalFn(tp, c, params)
		case "Fn::Equals":
			vals, err := evalArgs()
			if err != nil || len(vals) != 2 {
				return nil, fmt.Errorf("Fn::Equals %v: %v", arg, err)
			}
			return fmt.Sprint(vals[0]) == fmt.Sprint(vals[1]), nil
		case "Fn::Not":
			b, err := boolArgs()
			if err != nil || len(b) != 1 {
				return nil, fmt.Errorf("Fn::Not %v: %v", arg, err)
			}
			return !b[0], nil
		case "Fn::And", "Fn::Or":
			b, err := boolArgs()
			if err != nil {
				return nil, err
			}
			if fn == "Fn::And" {
				return !slices.Contains(b, false), nil
			}
			return slices.Contains(b, true), nil
		case "Fn::Contains":
			vals, err := evalArgs()
			if err != nil || len(vals) != 2 {
				return nil, fmt.Errorf("Fn::Contains %v: %v", arg, err)
			}
			return slices.ContainsFunc(anySlice(vals[0]), func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(vals[1]) }), nil
		case "Fn::EachMemberEquals":
			vals, err := evalArgs()
			if err != nil || len(vals) != 2 {
				return nil, fmt.Errorf("Fn::EachMemberEquals %v: %v", arg, err)
			}
			list := anySlice(vals[0])
			return len(list) > 0 && !slices.ContainsFunc(list, func(e any) bool { return fmt.Sprint(e) != fmt.Sprint(vals[1]) }), nil
		case "Fn::Join":
			vals, err := evalArgs()
			if err != nil || len(vals) != 2 {
				return nil, fmt.Errorf("Fn::Join %v: %v", arg, err)
			}
			var parts []string
			for _, e := range anySlice(vals[1]) {
				parts = append(parts, fmt.Sprint(e))
			}
			return strings.Join(parts, fmt.Sprint(vals[0])), nil
		}
		return nil, fmt.Errorf("cannot evaluate %s", fn)
	}
	return nil, nil
}

// condition is the value of the named condition with params.
func condition(tp template, name string, params map[string]string) (bool, error) {
	v, err := evalFn(tp, map[string]any{"Condition": name}, params)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("condition %s is %v, not a boolean", name, v)
	}
	return b, nil
}

// stack is what a template with params creates: its resources and outputs
// whose condition holds, Fn::If resolved in them.
type stack struct {
	resources map[string]any
	outputs   map[string]any
}

func (s stack) names() []string {
	var out []string
	for n := range s.resources {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (s stack) ofType(prefix string) []string {
	var out []string
	for _, n := range s.names() {
		if strings.HasPrefix(str(get(s.resources[n], "Type")), prefix) {
			out = append(out, n)
		}
	}
	return out
}

// resolveStack resolves tp's conditions with params.
func resolveStack(tp template, params map[string]string) (stack, error) {
	s := stack{resources: map[string]any{}, outputs: map[string]any{}}
	var resolve func(v any) (any, error)
	resolve = func(v any) (any, error) {
		switch x := v.(type) {
		case map[string]any:
			if ifArgs, ok := x["Fn::If"].([]any); ok && len(x) == 1 {
				if len(ifArgs) != 3 {
					return nil, fmt.Errorf("Fn::If %v: want 3 arguments", ifArgs)
				}
				c, err := condition(tp, str(ifArgs[0]), params)
				if err != nil {
					return nil, err
				}
				if c {
					return resolve(ifArgs[1])
				}
				return resolve(ifArgs[2])
			}
			out := map[string]any{}
			for k, e := range x {
				r, err := resolve(e)
				if err != nil {
					return nil, err
				}
				if ref(r) == "AWS::NoValue" {
					continue
				}
				out[k] = r
			}
			return out, nil
		case []any:
			var out []any
			for _, e := range x {
				r, err := resolve(e)
				if err != nil {
					return nil, err
				}
				if ref(r) != "AWS::NoValue" {
					out = append(out, r)
				}
			}
			return out, nil
		}
		return v, nil
	}
	for section, into := range map[string]map[string]any{"Resources": s.resources, "Outputs": s.outputs} {
		all, _ := tp[section].(map[string]any)
		for name, r := range all {
			if c := str(get(r, "Condition")); c != "" {
				ok, err := condition(tp, c, params)
				if err != nil {
					return stack{}, fmt.Errorf("%s %s: %w", section, name, err)
				}
				if !ok {
					continue
				}
			}
			res, err := resolve(r)
			if err != nil {
				return stack{}, fmt.Errorf("%s %s: %w", section, name, err)
			}
			into[name] = res
		}
	}
	return s, nil
}

var subRef = regexp.MustCompile(`\$\{([A-Za-z0-9:]+)(\.[A-Za-z0-9.]+)?\}`)

// dangling lists the references of the stack's resources and outputs
// (Ref, Fn::GetAtt, ${...} of Fn::Sub, DependsOn) to a resource it does not
// create or a parameter the template does not declare: what CloudFormation
// refuses for that set of parameter values.
func (s stack) dangling(tp template) []string {
	var out []string
	known := func(name string) bool {
		return strings.HasPrefix(name, "AWS::") || get(tp, "Parameters", name) != nil || s.resources[name] != nil
	}
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if r := ref(x); r != "" && len(x) == 1 && !known(r) {
				out = append(out, fmt.Sprintf("%s: Ref %s", where, r))
			}
			if r, _ := getAtt(x); r != "" && len(x) == 1 && s.resources[r] == nil {
				out = append(out, fmt.Sprintf("%s: Fn::GetAtt %s", where, r))
			}
			if sub, ok := x["Fn::Sub"]; ok && len(x) == 1 {
				text := str(sub)
				vars := map[string]bool{}
				if l := anySlice(sub); len(l) == 2 {
					text = str(l[0])
					vm, _ := l[1].(map[string]any)
					for k := range vm {
						vars[k] = true
					}
				}
				for _, m := range subRef.FindAllStringSubmatch(text, -1) {
					if !vars[m[1]] && !known(m[1]) {
						out = append(out, fmt.Sprintf("%s: Fn::Sub ${%s}", where, m[1]))
					}
				}
			}
			for _, e := range x {
				walk(where, e)
			}
		case []any:
			for _, e := range x {
				walk(where, e)
			}
		}
	}
	for name, r := range s.resources {
		walk(name, get(r, "Properties"))
		deps := anySlice(get(r, "DependsOn"))
		if d, ok := get(r, "DependsOn").(string); ok {
			deps = []any{d}
		}
		for _, d := range deps {
			if s.resources[str(d)] == nil {
				out = append(out, fmt.Sprintf("%s: DependsOn %v", name, d))
			}
		}
	}
	for name, o := range s.outputs {
		walk("output "+name, get(o, "Value"))
	}
	sort.Strings(out)
	return out
}

// subscriptions lists the protocols of the stack's subscriptions to
// OrdersTopic with what they deliver to: "lambda ProcessorFunction", "sqs
// WorkerOrdersQueue".
func (s stack) subscriptions() []string {
	var out []string
	for _, n := range s.ofType("AWS::SNS::Subscription") {
		r := s.resources[n]
		if ref(get(r, "Properties", "TopicArn")) != "OrdersTopic" {
			continue
		}
		to, _ := getAtt(get(r, "Properties", "Endpoint"))
		out = append(out, fmt.Sprintf("%v %s", get(r, "Properties", "Protocol"), to))
	}
	sort.Strings(out)
	return out
}

// withDefaults writes a copy of template.yaml whose parameters default to
// params, for the tools that take no parameter values.
func withDefaults(t *testing.T, params map[string]string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	mapping := func(n *yaml.Node, key string) *yaml.Node {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
		return nil
	}
	parameters := mapping(doc.Content[0], "Parameters")
	for name, v := range params {
		p := mapping(parameters, name)
		if p == nil {
			t.Fatalf("template.yaml has no parameter %s", name)
		}
		d := mapping(p, "Default")
		if d == nil {
			t.Fatalf("parameter %s has no Default to set", name)
		}
		d.SetString(v)
		d.Style = yaml.DoubleQuotedStyle
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// samTransformScript runs the SAM translator of the pinned SAM CLI on a
// template, as `sam validate` does: each function's CodeUri becomes a
// placeholder S3 location (its code is built later), and the template has
// no SAM policy templates, so no managed policy is looked up.
const samTransformScript = `import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse
from samtranslator.model.exceptions import InvalidDocumentException

class NoManagedPolicies:
    def load(self):
        return {}

with open(sys.argv[1]) as f:
    tpl = yaml_parse(f.read())
for r in tpl.get("Resources", {}).values():
    if r.get("Type") == "AWS::Serverless::Function":
        r["Properties"]["CodeUri"] = "s3://bucket/key"
try:
    out = transform(tpl, json.loads(sys.argv[2]), NoManagedPolicies())
except InvalidDocumentException as e:
    sys.exit("\n".join(str(c) for c in e.causes))
json.dump(out, sys.stdout)
`

// samTransform runs the SAM translator on path with params and returns the
// CloudFormation template it makes.
func samTransform(t *testing.T, path string, params map[string]string) template {
	t.Helper()
	python := filepath.Join(filepath.Dir(samcli.Bin(t, repoRoot)), "python")
	if _, err := os.Stat(python); err != nil {
		msg := "no python beside the SAM CLI (" + python + "): " + samcli.SetupHint
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	script := filepath.Join(t.TempDir(), "transform.py")
	if err := os.WriteFile(script, []byte(samTransformScript), 0o644); err != nil {
		t.Fatal(err)
	}
	p, _ := json.Marshal(params)
	cmd := exec.Command(python, script, path, string(p))
	cmd.Env = append(os.Environ(), "AWS_DEFAULT_REGION=eu-west-1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("SAM transform: %v\n%s", err, stderr.String())
	}
	var tp map[string]any
	if err := json.Unmarshal(out, &tp); err != nil {
		t.Fatalf("SAM transform output: %v", err)
	}
	return template(tp)
}

// workerServiceResources are the resources that exist only with the
// service: its queues and subscription, and the service on ECS.
var workerServiceResources = []string{
	"WorkerOrdersQueue", "WorkerOrdersQueuePolicy", "WorkerDeadLetterQueue", "WorkerDeadLetterQueuePolicy",
	"WorkerOrdersSubscription", "WorkerSubscriptionDeadLetterQueue", "WorkerSubscriptionDeadLetterQueuePolicy",
	"WorkerCluster", "WorkerLogGroup", "WorkerSecurityGroup", "WorkerTaskDefinition", "WorkerService",
	"WorkerScalableTarget", "WorkerScalingPolicy", "WorkerTaskRole", "WorkerExecutionRole",
}

// TestTemplateProcessor: for each value of Processor, the template passes
// cfn-lint and the SAM transform, and the stack it makes holds what that
// value asks for and nothing that refers to a resource it does not create.
func TestTemplateProcessor(t *testing.T) {
	cfnLint := requireTool(t, "cfn-lint", `pip install cfn-lint`)
	src := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
	if got := fmt.Sprint(get(src, "Parameters", "Processor", "AllowedValues")); got != "[lambda service both]" {
		t.Fatalf("Processor: AllowedValues %s, want [lambda service both]", got)
	}
	if d := get(src, "Parameters", "Processor", "Default"); d != "lambda" {
		t.Errorf("Processor: Default %v, want lambda (the processor function, as before)", d)
	}
	if get(src, "Parameters", "WorkerQueue") != nil || get(src, "Conditions", "CreateWorkerQueue") != nil {
		t.Error("WorkerQueue and CreateWorkerQueue are replaced by Processor")
	}
	tests := []struct {
		processor string
		// subscriptions to OrdersTopic
		subscriptions []string
		service       bool
	}{
		{"lambda", []string{"lambda ProcessorFunction"}, false},
		{"service", []string{"sqs WorkerOrdersQueue"}, true},
		{"both", []string{"lambda ProcessorFunction", "sqs WorkerOrdersQueue"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.processor, func(t *testing.T) {
			t.Parallel()
			params := processorParams(tt.processor)
			path := withDefaults(t, params)
			if out, err := exec.Command(cfnLint, path).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) != 0 {
				t.Errorf("cfn-lint with Processor=%s: %v\n%s", tt.processor, err, out)
			}
			for _, e := range checkRules(src, params) {
				t.Errorf("rule: %s", e)
			}

			cfn := samTransform(t, path, params)
			s, err := resolveStack(cfn, params)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range s.dangling(cfn) {
				t.Errorf("Processor=%s: %s, which the stack does not create", tt.processor, d)
			}
			if got := s.subscriptions(); !slices.Equal(got, tt.subscriptions) {
				t.Errorf("subscriptions to OrdersTopic %v, want %v", got, tt.subscriptions)
			}
			// The processor function stays, subscribed or not; SNS may
			// invoke it only when it is subscribed.
			if got := s.ofType("AWS::Lambda::Function"); !slices.Equal(got, []string{"ApiFunction", "ProcessorFunction"}) {
				t.Errorf("functions %v, want ApiFunction and ProcessorFunction", got)
			}
			snsInvokes := 0
			for _, n := range s.ofType("AWS::Lambda::Permission") {
				if get(s.resources[n], "Properties", "Principal") == "sns.amazonaws.com" {
					snsInvokes++
				}
			}
			if want := map[bool]int{true: 1, false: 0}[slices.Contains(tt.subscriptions, "lambda ProcessorFunction")]; snsInvokes != want {
				t.Errorf("%d permissions for SNS to invoke a function, want %d", snsInvokes, want)
			}
			for _, n := range workerServiceResources {
				if _, ok := s.resources[n]; ok != tt.service {
					t.Errorf("%s in the stack: %v, want %v", n, ok, tt.service)
				}
			}
			want := map[bool][]string{true: {"WorkerService"}}[tt.service]
			if got := s.ofType("AWS::ECS::Service"); !slices.Equal(got, want) {
				t.Errorf("ECS services %v, want %v", got, want)
			}
			wantScaling := map[bool][]string{true: {"WorkerScalableTarget", "WorkerScalingPolicy"}}[tt.service]
			if got := s.ofType("AWS::ApplicationAutoScaling::"); !slices.Equal(got, wantScaling) {
				t.Errorf("scaling resources %v, want %v", got, wantScaling)
			}
			for _, o := range []string{"WorkerQueueUrl", "WorkerClusterName", "WorkerServiceName", "WorkerLogGroupName"} {
				if _, ok := s.outputs[o]; ok != tt.service {
					t.Errorf("output %s: %v, want %v", o, ok, tt.service)
				}
			}
			if tt.service {
				c := anySlice(get(s.resources["WorkerTaskDefinition"], "Properties", "ContainerDefinitions"))
				if len(c) != 1 || ref(get(c[0], "Image")) != "WorkerImage" {
					t.Errorf("task definition containers %v, want one running WorkerImage", c)
				}
			}
		})
	}
}

// checkRules returns the assertions of tp's rules that fail with params.
func checkRules(tp template, params map[string]string) []string {
	var errs []string
	rules, _ := tp["Rules"].(map[string]any)
	for name, r := range rules {
		if c := get(r, "RuleCondition"); c != nil {
			v, err := evalFn(tp, c, params)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: RuleCondition: %v", name, err))
				continue
			}
			if v != true {
				continue
			}
		}
		for _, a := range anySlice(get(r, "Assertions")) {
			v, err := evalFn(tp, get(a, "Assert"), params)
			switch {
			case err != nil:
				errs = append(errs, fmt.Sprintf("%s: %v", name, err))
			case v != true:
				errs = append(errs, fmt.Sprintf("%s: %v", name, get(a, "AssertDescription")))
			}
		}
	}
	sort.Strings(errs)
	return errs
}

// TestTemplateRules: the service's inputs are required when it runs, and
// only then; its CPU and memory must be a pair Fargate runs.
func TestTemplateRules(t *testing.T) {
	tp := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
	with := func(p string, kv ...string) map[string]string {
		m := processorParams(p)
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name   string
		params map[string]string
		want   string // "" when every assertion holds
	}{
		{"defaults", map[string]string{}, ""},
		{"lambda", with("lambda"), ""},
		{"service", with("service"), ""},
		{"both", with("both"), ""},
		{"service without an image", with("service", "WorkerImage", ""), "WorkerImage is required"},
		{"both without subnets", with("both", "Subnets", ""), "Subnets is required"},
		{"service without a VPC", with("service", "VpcId", ""), "VpcId is required"},
		{"lambda ignores the service's inputs", with("lambda", "WorkerCpu", "256", "WorkerMemory", "30720"), ""},
		{"a quarter vCPU with 4 GB", with("service", "WorkerCpu", "256", "WorkerMemory", "4096"), "WorkerCpu 256 with WorkerMemory 512, 1024 or 2048"},
		{"half a vCPU with 512 MB", with("service", "WorkerCpu", "512", "WorkerMemory", "512"), "WorkerCpu 512 with WorkerMemory 1024 to 4096"},
		{"1 vCPU, 2 GB", with("service", "WorkerCpu", "1024", "WorkerMemory", "2048"), ""},
		{"4 vCPU, 30 GB", with("both", "WorkerCpu", "4096", "WorkerMemory", "30720"), ""},
		{"JWT issuer without audience", map[string]string{"JwtIssuer": "https://issuer.example"}, "JwtAudience is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := strings.Join(checkRules(tp, tt.params), "\n")
			switch {
			case tt.want == "" && errs != "":
				t.Errorf("rules fail: %s", errs)
			case tt.want != "" && !strings.Contains(errs, tt.want):
				t.Errorf("rule failures %q, want one containing %q", errs, tt.want)
			}
		})
	}
}

// TestTemplateProcessorConditions: the conditions of each Processor value,
// resolved on the template itself (no tool needed).
func TestTemplateProcessorConditions(t *testing.T) {
	tp := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
	for _, tt := range []struct {
		processor           string
		subscribe, runsTask bool
	}{{"lambda", true, false}, {"service", false, true}, {"both", true, true}} {
		params := processorParams(tt.processor)
		for name, want := range map[string]bool{"SubscribeProcessor": tt.subscribe, "RunService": tt.runsTask} {
			if got, err := condition(tp, name, params); err != nil || got != want {
				t.Errorf("Processor=%s: %s = %v (%v), want %v", tt.processor, name, got, err, want)
			}
		}
		s, err := resolveStack(tp, params)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range s.dangling(tp) {
			// The SAM resources are checked after the transform
			// (TestTemplateProcessor); here only references to resources
			// the template itself leaves out count.
			t.Errorf("Processor=%s: %s, which the stack does not create", tt.processor, d)
		}
	}
}

// TestStackDangling: the reference check notices a resource that refers to
// one its condition leaves out, in each form CloudFormation has.
func TestStackDangling(t *testing.T) {
	tp := template(map[string]any{
		"Parameters": map[string]any{"P": map[string]any{"Type": "String", "Default": "a"}},
		"Conditions": map[string]any{"IsB": map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "P"}, "b"}}},
		"Resources": map[string]any{
			"Only":   map[string]any{"Type": "T", "Condition": "IsB"},
			"Ref":    map[string]any{"Type": "T", "Properties": map[string]any{"X": map[string]any{"Ref": "Only"}}},
			"GetAtt": map[string]any{"Type": "T", "Properties": map[string]any{"X": map[string]any{"Fn::GetAtt": []any{"Only", "Arn"}}}},
			"Sub":    map[string]any{"Type": "T", "Properties": map[string]any{"X": map[string]any{"Fn::Sub": "a-${Only.Arn}-${AWS::Region}-${P}"}}},
			"Dep":    map[string]any{"Type": "T", "DependsOn": "Only"},
			"If": map[string]any{"Type": "T", "Properties": map[string]any{"X": map[string]any{
				"Fn::If": []any{"IsB", map[string]any{"Ref": "Only"}, map[string]any{"Ref": "AWS::NoValue"}}}}},
		},
		"Outputs": map[string]any{"O": map[string]any{"Value": map[string]any{"Ref": "Only"}}},
	})
	s, err := resolveStack(tp, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Dep: DependsOn Only", "GetAtt: Fn::GetAtt Only", "Ref: Ref Only", "Sub: Fn::Sub ${Only}", "output O: Ref Only"}
	if got := s.dangling(tp); !slices.Equal(got, want) {
		t.Errorf("dangling %q, want %q", got, want)
	}
	if s, err = resolveStack(tp, map[string]string{"P": "b"}); err != nil || len(s.dangling(tp)) != 0 {
		t.Errorf("with P=b: %v, %q; want no dangling reference", err, s.dangling(tp))
	}
}
