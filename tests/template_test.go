// Package tests holds the repository-level tests of the serverless variant:
// template.yaml's wiring and lint, the sample events, the Lambda functions'
// dependencies, and the two bootstraps run under the Lambda Runtime
// Interface Emulator against a local moto_server.
package tests

import (
	"context"
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
	"sync"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.yaml.in/yaml/v3"

	"flashsale/internal/ociimage"
	"flashsale/internal/orderstore/dynamostore"
	"flashsale/internal/serverless"
)

// repoRoot is the module root, one level above this package.
const repoRoot = ".."

// loadTemplate reads template.yaml into plain maps and slices, with
// CloudFormation's short-form tags turned into their long form (!Ref X into
// {"Ref": "X"}, !GetAtt A.B into {"Fn::GetAtt": ["A", "B"]}, !Sub s into
// {"Fn::Sub": s}, ...).
func loadTemplate(t testing.TB, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	v, err := plain(&doc)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: top level is %T, want a mapping", path, v)
	}
	return m
}

// plain converts a YAML node to Go values, expanding CloudFormation tags.
func plain(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return nil, fmt.Errorf("line %d: want one document", n.Line)
		}
		return plain(n.Content[0])
	case yaml.AliasNode:
		return plain(n.Alias)
	}
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := plain(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := plain(c)
			if err != nil {
				return nil, err
			}
			s = append(s, val)
		}
		v = s
	case yaml.ScalarNode:
		var val any
		if isCustomTag(n.Tag) {
			val = n.Value // a tagged scalar is the tag's argument, as a string
		} else if err := n.Decode(&val); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		v = val
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node kind %v", n.Line, n.Kind)
	}
	switch tag := n.Tag; {
	case tag == "!Ref":
		return map[string]any{"Ref": v}, nil
	case tag == "!GetAtt":
		if s, ok := v.(string); ok {
			res, attr, found := strings.Cut(s, ".")
			if !found {
				return nil, fmt.Errorf("line %d: !GetAtt %q: want Resource.Attribute", n.Line, s)
			}
			return map[string]any{"Fn::GetAtt": []any{res, attr}}, nil
		}
		return map[string]any{"Fn::GetAtt": v}, nil
	case tag == "!Condition":
		return map[string]any{"Condition": v}, nil
	case isCustomTag(tag):
		return map[string]any{"Fn::" + tag[1:]: v}, nil
	}
	return v, nil
}

// isCustomTag tells a local tag such as !Ref from YAML's own (!!str, !!map).
func isCustomTag(tag string) bool {
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!")
}

// get walks a path of keys through nested maps.
func get(v any, path ...string) any {
	if tp, ok := v.(template); ok {
		v = map[string]any(tp)
	}
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// ref is the target of {"Ref": X}, or "".
func ref(v any) string { return str(get(v, "Ref")) }

// getAtt is the resource and attribute of {"Fn::GetAtt": [R, A]}.
func getAtt(v any) (string, string) {
	s, _ := get(v, "Fn::GetAtt").([]any)
	if len(s) != 2 {
		return "", ""
	}
	return str(s[0]), str(s[1])
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case float64:
		return n, true
	case string:
		f, err := strconv.ParseFloat(n, 64)
		return f, err == nil
	}
	return 0, false
}

// template is a loaded template with helpers to resolve its values.
type template map[string]any

func (tp template) resources() map[string]any {
	r, _ := tp["Resources"].(map[string]any)
	return r
}

func (tp template) typeOf(name string) string { return str(get(tp.resources()[name], "Type")) }

// functions lists the AWS::Serverless::Function resources, sorted.
func (tp template) functions() []string {
	var out []string
	for name := range tp.resources() {
		if tp.typeOf(name) == "AWS::Serverless::Function" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// fnProp is a function property, or its Globals.Function default.
func (tp template) fnProp(fn, prop string) any {
	if v := get(tp.resources()[fn], "Properties", prop); v != nil {
		return v
	}
	return get(tp, "Globals", "Function", prop)
}

// fnEnv is a function's environment variable: its own, or else the one of
// Globals.Function (SAM merges them, the function's winning).
func (tp template) fnEnv(fn, name string) any {
	if v := get(tp.resources()[fn], "Properties", "Environment", "Variables", name); v != nil {
		return v
	}
	return get(tp, "Globals", "Function", "Environment", "Variables", name)
}

// envOrdersTable is the variable the functions read the order store's table
// name from.
const envOrdersTable = "ORDERS_TABLE"

// storeTable is the table `flashsale table create` makes
// (dynamostore.CreateTable), in the template's terms: the key schema in
// order, the attribute definitions sorted, "NAME TYPE" each.
type storeTable struct {
	billing    string
	keySchema  []string
	attributes []string
	ttl        string
}

// tableRecorder is a DynamoDB client that records what CreateTable asks
// for and reports the table active at once.
type tableRecorder struct {
	create *dynamodb.CreateTableInput
	ttl    *dynamodb.UpdateTimeToLiveInput
}

func (r *tableRecorder) CreateTable(_ context.Context, in *dynamodb.CreateTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	r.create = in
	return &dynamodb.CreateTableOutput{}, nil
}

func (r *tableRecorder) DescribeTable(_ context.Context, in *dynamodb.DescribeTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	return &dynamodb.DescribeTableOutput{Table: &types.TableDescription{TableName: in.TableName, TableStatus: types.TableStatusActive}}, nil
}

func (r *tableRecorder) UpdateTimeToLive(_ context.Context, in *dynamodb.UpdateTimeToLiveInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error) {
	r.ttl = in
	return &dynamodb.UpdateTimeToLiveOutput{}, nil
}

// orderStoreTable runs dynamostore.CreateTable against a tableRecorder: the
// template's table must be the one the store's own command creates.
var orderStoreTable = sync.OnceValues(func() (storeTable, error) {
	var r tableRecorder
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := dynamostore.CreateTable(ctx, &r, "orders"); err != nil {
		return storeTable{}, fmt.Errorf("dynamostore.CreateTable against a recorder: %w", err)
	}
	if r.create == nil || r.ttl == nil || r.ttl.TimeToLiveSpecification == nil {
		return storeTable{}, fmt.Errorf("dynamostore.CreateTable did not create the table and set its TTL (create %v, ttl %v)", r.create, r.ttl)
	}
	st := storeTable{billing: string(r.create.BillingMode)}
	for _, k := range r.create.KeySchema {
		st.keySchema = append(st.keySchema, aws.ToString(k.AttributeName)+" "+string(k.KeyType))
	}
	for _, a := range r.create.AttributeDefinitions {
		st.attributes = append(st.attributes, aws.ToString(a.AttributeName)+" "+string(a.AttributeType))
	}
	sort.Strings(st.attributes)
	if aws.ToBool(r.ttl.TimeToLiveSpecification.Enabled) {
		st.ttl = aws.ToString(r.ttl.TimeToLiveSpecification.AttributeName)
	}
	return st, nil
})

// pairs lists "A B" for each map of list, with the values of keys a and b.
func pairs(list any, a, b string) []string {
	var out []string
	for _, e := range anySlice(list) {
		out = append(out, fmt.Sprintf("%v %v", get(e, a), get(e, b)))
	}
	return out
}

// resolve replaces a {"Ref": Parameter} by the parameter's default.
func (tp template) resolve(v any) any {
	if p := ref(v); p != "" {
		if d := get(tp, "Parameters", p, "Default"); d != nil {
			return d
		}
	}
	return v
}

// checkWiring returns every way in which the template breaks the wiring that
// issue 3 asks for.
func checkWiring(tp template) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	res := tp.resources()

	if tp["Transform"] != "AWS::Serverless-2016-10-31" {
		fail("Transform = %v, want the SAM transform", tp["Transform"])
	}
	for _, fn := range tp.functions() {
		if rt := tp.fnProp(fn, "Runtime"); rt != "provided.al2023" {
			fail("%s: Runtime %v, want provided.al2023", fn, rt)
		}
		if a, _ := tp.fnProp(fn, "Architectures").([]any); len(a) != 1 || tp.resolve(a[0]) != "arm64" {
			fail("%s: Architectures %v, want [arm64] by default", fn, a)
		}
		if a, _ := tp.fnProp(fn, "Architectures").([]any); len(a) == 1 && ref(a[0]) == "Architecture" {
			if av := fmt.Sprint(get(tp, "Parameters", "Architecture", "AllowedValues")); av != "[arm64 x86_64]" {
				fail("Architecture: AllowedValues %s, want [arm64 x86_64]", av)
			}
		}
		if h := tp.fnProp(fn, "Handler"); h != "bootstrap" {
			fail("%s: Handler %v, want bootstrap", fn, h)
		}
		if bm := get(res[fn], "Metadata", "BuildMethod"); bm != "makefile" {
			fail("%s: Metadata.BuildMethod %v, want makefile", fn, bm)
		}
		lg := ref(get(tp.fnProp(fn, "LoggingConfig"), "LogGroup"))
		if tp.typeOf(lg) != "AWS::Logs::LogGroup" {
			fail("%s: LoggingConfig.LogGroup %q is not a log group of the template", fn, lg)
		} else if get(res[lg], "Properties", "RetentionInDays") == nil {
			fail("%s: log group %s has no RetentionInDays", fn, lg)
		}
	}

	// Routes: each one reaches ApiFunction through OrdersHttpApi, payload 2.0.
	want := map[string]bool{"POST /orders/sync": false, "POST /orders/async": false, "GET /orders/{id}": false, "GET /health": false, "ANY $default": false}
	for _, fn := range tp.functions() {
		evs, _ := get(res[fn], "Properties", "Events").(map[string]any)
		for name, ev := range evs {
			if get(ev, "Type") != "HttpApi" {
				continue
			}
			key := fmt.Sprintf("%v %v", get(ev, "Properties", "Method"), get(ev, "Properties", "Path"))
			if _, ok := want[key]; !ok {
				fail("%s.%s: unexpected route %s", fn, name, key)
				continue
			}
			want[key] = true
			if fn != "ApiFunction" {
				fail("route %s reaches %s, want ApiFunction", key, fn)
			}
			if api := ref(get(ev, "Properties", "ApiId")); api != "OrdersHttpApi" {
				fail("route %s: ApiId %q, want OrdersHttpApi", key, api)
			}
			if v := get(ev, "Properties", "PayloadFormatVersion"); v != "2.0" {
				fail("route %s: PayloadFormatVersion %v, want 2.0", key, v)
			}
		}
	}
	for key, found := range want {
		if !found {
			fail("route %s is missing", key)
		}
	}
	if tp.typeOf("OrdersHttpApi") != "AWS::Serverless::HttpApi" {
		fail("OrdersHttpApi is not an AWS::Serverless::HttpApi")
	}
	for _, k := range []string{"ThrottlingBurstLimit", "ThrottlingRateLimit"} {
		if n, ok := number(tp.resolve(get(res["OrdersHttpApi"], "Properties", "DefaultRouteSettings", k))); !ok || n <= 0 {
			fail("OrdersHttpApi: DefaultRouteSettings.%s is not a positive number", k)
		}
	}
	// Default route settings apply to each route, so the sync route, which
	// holds a Lambda for the whole payment, has its own lower limits.
	sync := get(res["OrdersHttpApi"], "Properties", "RouteSettings", "POST /orders/sync")
	for _, k := range []string{"ThrottlingBurstLimit", "ThrottlingRateLimit"} {
		n, ok := number(tp.resolve(get(sync, k)))
		def, _ := number(tp.resolve(get(res["OrdersHttpApi"], "Properties", "DefaultRouteSettings", k)))
		switch {
		case !ok || n <= 0:
			fail("OrdersHttpApi: RouteSettings[POST /orders/sync].%s is not a positive number", k)
		case n >= def:
			fail("OrdersHttpApi: RouteSettings[POST /orders/sync].%s %v is not below the default route's %v", k, n, def)
		}
	}
	// Access logs: JSON records to a log group of the stack with its
	// retention; per-route metrics on every route.
	als := get(res["OrdersHttpApi"], "Properties", "AccessLogSettings")
	if lg, a := getAtt(get(als, "DestinationArn")); a != "Arn" || tp.typeOf(lg) != "AWS::Logs::LogGroup" {
		fail("OrdersHttpApi: AccessLogSettings.DestinationArn %v is not a log group of the template", get(als, "DestinationArn"))
	} else if ref(get(res[lg], "Properties", "RetentionInDays")) != "LogRetentionInDays" {
		fail("access log group %s: RetentionInDays %v, want the LogRetentionInDays parameter", lg, get(res[lg], "Properties", "RetentionInDays"))
	}
	var format map[string]any
	if err := json.Unmarshal([]byte(str(get(als, "Format"))), &format); err != nil {
		fail("OrdersHttpApi: access log Format is not a JSON object: %v", err)
	}
	for _, k := range []string{"requestId", "routeKey", "status", "integrationLatency", "responseLatency"} {
		if format[k] == nil {
			fail("OrdersHttpApi: access log Format lacks %s", k)
		}
	}
	if get(res["OrdersHttpApi"], "Properties", "DefaultRouteSettings", "DetailedMetricsEnabled") != true {
		fail("OrdersHttpApi: DefaultRouteSettings.DetailedMetricsEnabled is not true")
	}
	rs, _ := get(res["OrdersHttpApi"], "Properties", "RouteSettings").(map[string]any)
	for key, v := range rs {
		if get(v, "DetailedMetricsEnabled") != true {
			fail("OrdersHttpApi: RouteSettings[%s].DetailedMetricsEnabled is not true (a route's settings replace the default ones)", key)
		}
	}
	for key := range rs {
		if _, ok := want[key]; !ok {
			fail("OrdersHttpApi: RouteSettings names %q, not a route of the API (the deploy would fail)", key)
		}
	}

	// The API function answers before Lambda cuts it off: the sync deadline
	// and one publish both end at least a second before its timeout.
	apiTimeout, _ := number(tp.resolve(tp.fnProp("ApiFunction", "Timeout")))
	apiEnv := get(res["ApiFunction"], "Properties", "Environment", "Variables")
	for _, v := range []string{serverless.EnvRequestTimeout, serverless.EnvPublishTimeout} {
		d, err := time.ParseDuration(str(get(apiEnv, v)))
		if err != nil || d <= 0 {
			fail("ApiFunction: %s %v is not a positive duration", v, get(apiEnv, v))
		} else if d+serverless.DefaultDeadlineMargin > time.Duration(apiTimeout)*time.Second {
			fail("ApiFunction: %s %v leaves less than %v before the %vs timeout", v, d, serverless.DefaultDeadlineMargin, apiTimeout)
		}
	}
	if d, _ := time.ParseDuration(str(get(apiEnv, serverless.EnvRequestTimeout))); d != serverless.DefaultRequestTimeout {
		fail("ApiFunction: REQUEST_TIMEOUT %v differs from the function's default %v", d, serverless.DefaultRequestTimeout)
	}

	// Reserved concurrency: a parameter per function, none when empty.
	for fn, param := range map[string]string{"ApiFunction": "ApiReservedConcurrency", "ProcessorFunction": "ProcessorReservedConcurrency"} {
		if d := get(tp, "Parameters", param, "Default"); d != "" {
			fail("%s: Default %v, want empty (no reservation)", param, d)
		}
		re, err := regexp.Compile(str(get(tp, "Parameters", param, "AllowedPattern")))
		if err != nil {
			fail("%s: AllowedPattern: %v", param, err)
		} else if !re.MatchString("") || !re.MatchString("180") || re.MatchString("0") || re.MatchString("-1") || re.MatchString("ten") {
			fail("%s: AllowedPattern %s, want empty or a positive whole number", param, re)
		}
		rce, _ := get(res[fn], "Properties", "ReservedConcurrentExecutions", "Fn::If").([]any)
		if len(rce) != 3 || ref(rce[1]) != param || ref(rce[2]) != "AWS::NoValue" {
			fail("%s: ReservedConcurrentExecutions %v, want !If [cond, !Ref %s, !Ref AWS::NoValue]", fn, get(res[fn], "Properties", "ReservedConcurrentExecutions"), param)
		} else if cond := get(tp, "Conditions", str(rce[0])); fmt.Sprint(cond) != fmt.Sprintf("map[Fn::Not:[map[Fn::Equals:[map[Ref:%s] ]]]]", param) {
			fail("%s: condition %v of ReservedConcurrentExecutions is not `%s is not empty`", fn, cond, param)
		}
	}

	// Queues and tables hold orders: they outlive the stack. Each SNS
	// subscription has a dead-letter queue of its own.
	dlqOf := map[string]string{} // dead-letter queue -> subscription
	for name, r := range res {
		if t := get(r, "Type"); t == "AWS::SQS::Queue" || t == "AWS::DynamoDB::Table" {
			if get(r, "DeletionPolicy") != "Retain" || get(r, "UpdateReplacePolicy") != "Retain" {
				fail("%s: DeletionPolicy %v, UpdateReplacePolicy %v; want Retain for both (it holds orders)", name, get(r, "DeletionPolicy"), get(r, "UpdateReplacePolicy"))
			}
		}
		subs := map[string]any{}
		if get(r, "Type") == "AWS::SNS::Subscription" {
			subs[name] = get(r, "Properties", "RedrivePolicy")
		}
		evs, _ := get(r, "Properties", "Events").(map[string]any)
		for ev, e := range evs {
			if get(e, "Type") == "SNS" {
				subs[name+"."+ev] = get(e, "Properties", "RedrivePolicy")
			}
		}
		for sub, rp := range subs {
			var dlq string
			switch a := get(get(rp, "deadLetterTargetArn"), "Fn::GetAtt").(type) {
			case []any:
				dlq = fmt.Sprint(a[0]) + "." + fmt.Sprint(a[len(a)-1])
			case string:
				dlq = a
			}
			if dlq == "" {
				fail("%s: no dead-letter queue (RedrivePolicy.deadLetterTargetArn)", sub)
				continue
			}
			if other, dup := dlqOf[dlq]; dup {
				fail("%s and %s share the dead-letter queue %s: give each subscription its own", sub, other, dlq)
			}
			dlqOf[dlq] = sub
		}
	}

	if tp.typeOf("OrdersTopic") != "AWS::SNS::Topic" {
		fail("OrdersTopic is not an AWS::SNS::Topic")
	}
	if a := ref(get(res["ApiFunction"], "Properties", "Environment", "Variables", "ORDERS_TOPIC_ARN")); a != "OrdersTopic" {
		fail("ApiFunction: ORDERS_TOPIC_ARN is %q, want !Ref OrdersTopic", a)
	}

	// The order store: OrdersTable is the table dynamostore.CreateTable
	// makes (key, billing, TTL), encrypted with KMS, with point-in-time
	// recovery; every function gets its name.
	table := res["OrdersTable"]
	if tp.typeOf("OrdersTable") != "AWS::DynamoDB::Table" {
		fail("OrdersTable is not an AWS::DynamoDB::Table")
	} else if spec, err := orderStoreTable(); err != nil {
		fail("%v", err)
	} else {
		props := get(table, "Properties")
		if got := pairs(get(props, "KeySchema"), "AttributeName", "KeyType"); !slices.Equal(got, spec.keySchema) {
			fail("OrdersTable: KeySchema %v, want %v (dynamostore.CreateTable's)", got, spec.keySchema)
		}
		got := pairs(get(props, "AttributeDefinitions"), "AttributeName", "AttributeType")
		sort.Strings(got)
		if !slices.Equal(got, spec.attributes) {
			fail("OrdersTable: AttributeDefinitions %v, want %v (dynamostore.CreateTable's)", got, spec.attributes)
		}
		if b := get(props, "BillingMode"); b != spec.billing {
			fail("OrdersTable: BillingMode %v, want %s (dynamostore.CreateTable's)", b, spec.billing)
		}
		if ttl := get(props, "TimeToLiveSpecification"); get(ttl, "AttributeName") != spec.ttl || get(ttl, "Enabled") != true {
			fail("OrdersTable: TimeToLiveSpecification %v, want enabled on %s (dynamostore.TTLAttribute)", ttl, spec.ttl)
		}
		if spec.ttl != dynamostore.TTLAttribute || !slices.Equal(spec.keySchema, []string{dynamostore.KeyAttribute + " HASH"}) {
			fail("dynamostore.CreateTable makes key %v, TTL %q: not the store's KeyAttribute %q and TTLAttribute %q", spec.keySchema, spec.ttl, dynamostore.KeyAttribute, dynamostore.TTLAttribute)
		}
		if sse := get(props, "SSESpecification"); get(sse, "SSEEnabled") != true || get(sse, "SSEType") != "KMS" {
			fail("OrdersTable: SSESpecification %v, want SSEEnabled true and SSEType KMS", sse)
		}
		if get(props, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled") != true {
			fail("OrdersTable: PointInTimeRecoverySpecification %v, want PointInTimeRecoveryEnabled true", get(props, "PointInTimeRecoverySpecification"))
		}
		if n := get(props, "TableName"); n != nil {
			fail("OrdersTable: TableName %v: a retained table with a fixed name would block the next deploy of the stack", n)
		}
	}
	for _, fn := range tp.functions() {
		if v := tp.fnEnv(fn, envOrdersTable); ref(v) != "OrdersTable" {
			fail("%s: %s is %v, want !Ref OrdersTable", fn, envOrdersTable, v)
		}
	}

	// ProcessorFunction subscribes to OrdersTopic, with a dead-letter queue,
	// unless Processor is service: a subscription of its own (a SAM event
	// cannot be conditional) and SNS's permission to invoke it, both under
	// the condition SubscribeProcessor.
	if evs, _ := get(res["ProcessorFunction"], "Properties", "Events").(map[string]any); len(evs) > 0 {
		fail("ProcessorFunction: Events %v: a SAM event cannot be conditional; subscribe it with ProcessorFunctionOrders", evs)
	}
	var sub any
	for name, r := range res {
		if tp.typeOf(name) == "AWS::SNS::Subscription" && get(r, "Properties", "Protocol") == "lambda" {
			if fn, a := getAtt(get(r, "Properties", "Endpoint")); fn == "ProcessorFunction" && a == "Arn" && ref(get(r, "Properties", "TopicArn")) == "OrdersTopic" {
				sub = r
				if c := get(r, "Condition"); c != "SubscribeProcessor" {
					fail("%s: Condition %v, want SubscribeProcessor (not subscribed when Processor is service)", name, c)
				}
			}
		}
	}
	if sub == nil {
		fail("ProcessorFunction has no SNS subscription to OrdersTopic")
	}
	invokable := false
	for name, r := range res {
		if tp.typeOf(name) == "AWS::Lambda::Permission" && ref(get(r, "Properties", "FunctionName")) == "ProcessorFunction" {
			if get(r, "Properties", "Principal") != "sns.amazonaws.com" || get(r, "Properties", "Action") != "lambda:InvokeFunction" ||
				ref(get(r, "Properties", "SourceArn")) != "OrdersTopic" || get(r, "Condition") != get(sub, "Condition") {
				fail("%s: want lambda:InvokeFunction for sns.amazonaws.com from OrdersTopic only, under the subscription's condition", name)
				continue
			}
			invokable = true
		}
	}
	if !invokable {
		fail("no AWS::Lambda::Permission lets OrdersTopic invoke ProcessorFunction")
	}
	dlq, attr := getAtt(get(sub, "Properties", "RedrivePolicy", "deadLetterTargetArn"))
	if tp.typeOf(dlq) != "AWS::SQS::Queue" || attr != "Arn" {
		fail("the SNS subscription's RedrivePolicy does not target an SQS queue of the template (%q.%q)", dlq, attr)
	} else if !snsMaySend(tp, dlq) {
		fail("no AWS::SQS::QueuePolicy lets sns.amazonaws.com send OrdersTopic's messages to %s", dlq)
	}
	// ... and a failure destination after two retries.
	eic := get(res["ProcessorFunction"], "Properties", "EventInvokeConfig")
	if n, _ := number(get(eic, "MaximumRetryAttempts")); n != 2 || get(eic, "MaximumRetryAttempts") == nil {
		fail("ProcessorFunction: EventInvokeConfig.MaximumRetryAttempts %v, want 2", get(eic, "MaximumRetryAttempts"))
	}
	onf := get(eic, "DestinationConfig", "OnFailure")
	fq, _ := getAtt(get(onf, "Destination"))
	if get(onf, "Type") != "SQS" || tp.typeOf(fq) != "AWS::SQS::Queue" {
		fail("ProcessorFunction: OnFailure is not an SQS queue of the template")
	}
	if n, _ := number(tp.resolve(tp.fnProp("ProcessorFunction", "MemorySize"))); n != 512 {
		fail("ProcessorFunction: MemorySize resolves to %v, want 512", n)
	}
	timeout, _ := number(tp.resolve(tp.fnProp("ProcessorFunction", "Timeout")))
	delay, err := time.ParseDuration(str(get(tp, "Parameters", "PaymentDelay", "Default")))
	if err != nil {
		fail("PaymentDelay default: %v", err)
	} else if time.Duration(timeout)*time.Second < 3*delay {
		fail("ProcessorFunction: Timeout %vs is not comfortably above the %v payment", timeout, delay)
	}
	if pd := ref(get(tp, "Globals", "Function", "Environment", "Variables", "PAYMENT_DELAY")); pd != "PaymentDelay" {
		fail("PAYMENT_DELAY is not the PaymentDelay parameter")
	}
	if ref(get(tp, "Globals", "Function", "MemorySize")) != "MemorySize" && ref(tp.fnProp("ProcessorFunction", "MemorySize")) != "MemorySize" {
		fail("the processor's memory is not the MemorySize parameter")
	}

	// Each function runs with a role of the template that grants what it
	// needs on the stack's own resources and nothing else: logs on its own
	// log group, sns:Publish on OrdersTopic for ApiFunction only,
	// sqs:SendMessage on the failure queue for ProcessorFunction only; on
	// OrdersTable the items the store writes and reads (the API creates,
	// reads, cancels, claims and finishes; the processor only claims and
	// finishes: UpdateItem), never Scan, Query or DeleteItem; no KMS
	// permission (the table's key is the AWS managed aws/dynamodb, used
	// through DynamoDB); no managed policy (AWSLambdaBasicExecutionRole's
	// logs cover every log group of the account), no SAM Policies (ignored
	// beside a Role).
	wantGrants := map[string]map[string]string{ // function -> action -> resource
		"ApiFunction": {"logs:CreateLogStream": "ApiLogGroup.Arn", "logs:PutLogEvents": "ApiLogGroup.Arn", "sns:Publish": "OrdersTopic",
			"dynamodb:PutItem": "OrdersTable.Arn", "dynamodb:GetItem": "OrdersTable.Arn", "dynamodb:UpdateItem": "OrdersTable.Arn"},
		"ProcessorFunction": {"logs:CreateLogStream": "ProcessorLogGroup.Arn", "logs:PutLogEvents": "ProcessorLogGroup.Arn",
			"sqs:SendMessage": "ProcessorFailureQueue.Arn", "dynamodb:UpdateItem": "OrdersTable.Arn"},
	}
	roleOf := map[string]string{}
	for _, fn := range tp.functions() {
		if get(res[fn], "Properties", "Policies") != nil {
			fail("%s: Policies %v beside its own role: SAM ignores them; grant in the role", fn, get(res[fn], "Properties", "Policies"))
		}
		r, a := getAtt(tp.fnProp(fn, "Role"))
		if a != "Arn" || tp.typeOf(r) != "AWS::IAM::Role" {
			fail("%s: Role %v is not a role of the template (SAM would generate one with AWSLambdaBasicExecutionRole)", fn, tp.fnProp(fn, "Role"))
			continue
		}
		roleOf[r] = fn
	}
	// Statements of each function role: inline, and of the AWS::IAM::Policy
	// resources attached to it.
	statements := map[string][]any{}
	for name := range res {
		switch tp.typeOf(name) {
		case "AWS::IAM::Role":
			for _, pol := range anySlice(get(res[name], "Properties", "Policies")) {
				statements[name] = append(statements[name], anySlice(get(pol, "PolicyDocument", "Statement"))...)
			}
		case "AWS::IAM::Policy":
			attached := false
			for _, r := range anySlice(get(res[name], "Properties", "Roles")) {
				if _, ok := roleOf[ref(r)]; ok {
					statements[ref(r)] = append(statements[ref(r)], anySlice(get(res[name], "Properties", "PolicyDocument", "Statement"))...)
					attached = true
				}
			}
			if attached && (len(anySlice(get(res[name], "Properties", "Roles"))) != 1 || get(res[name], "Properties", "Users") != nil || get(res[name], "Properties", "Groups") != nil) {
				fail("%s is attached to more than one function's role", name)
			}
			if attached {
				continue
			}
			fallthrough
		case "AWS::IAM::ManagedPolicy":
			if strings.Contains(fmt.Sprint(res[name]), "sns:Publish") || strings.Contains(fmt.Sprint(res[name]), "sns:*") {
				fail("%s grants sns:Publish outside ApiFunction", name)
			}
		}
	}
	for name := range res {
		if tp.typeOf(name) != "AWS::IAM::Role" {
			continue
		}
		fn, isFnRole := roleOf[name]
		if !isFnRole {
			if strings.Contains(fmt.Sprint(res[name]), "sns:Publish") || strings.Contains(fmt.Sprint(res[name]), "sns:*") {
				fail("%s grants sns:Publish outside ApiFunction", name)
			}
			continue
		}
		if m := get(res[name], "Properties", "ManagedPolicyArns"); m != nil {
			fail("%s (role of %s): managed policies %v; grant only the stack's own resources", name, fn, m)
		}
		got := map[string]string{}
		{
			for _, st := range statements[name] {
				if get(st, "Effect") != "Allow" {
					continue
				}
				// An Allow of everything but (NotAction) or everywhere but
				// (NotResource) escapes the action and resource checks below.
				for _, k := range []string{"NotAction", "NotResource"} {
					if get(st, k) != nil {
						fail("%s (role of %s) allows with %s %v: name the actions and resources", name, fn, k, get(st, k))
					}
				}
				actions := anySlice(get(st, "Action"))
				if a, ok := get(st, "Action").(string); ok {
					actions = []any{a}
				}
				resource := ref(get(st, "Resource"))
				if r, a := getAtt(get(st, "Resource")); r != "" {
					resource = r + "." + a
				}
				for _, a := range actions {
					action := str(a)
					if action == "sns:Publish" || action == "sns:*" {
						if fn != "ApiFunction" {
							fail("%s may publish to SNS: only ApiFunction may", fn)
						}
					}
					want, ok := wantGrants[fn][action]
					switch {
					case !ok:
						fail("%s (role of %s) grants %s, which it does not need", name, fn, action)
					case resource != want:
						fail("%s (role of %s) grants %s on %v, want on %s only", name, fn, action, get(st, "Resource"), want)
					}
					got[action] = resource
				}
			}
		}
		for action, want := range wantGrants[fn] {
			if _, ok := got[action]; !ok {
				fail("%s (role of %s) lacks %s on %s", name, fn, action, want)
			}
		}
	}
	if len(roleOf) != len(tp.functions()) {
		fail("functions with a role of their own: %d of %d", len(roleOf), len(tp.functions()))
	}
	// The topic: encrypted with a rotated key of the stack that the API's
	// role may use; published to by the API's role only (and the optional
	// PublisherRoleArn), and over TLS only.
	publishers := map[string]bool{"ApiFunctionRole": true, "PublisherRoleArn": true}
	if key := ref(get(res["OrdersTopic"], "Properties", "KmsMasterKeyId")); tp.typeOf(key) != "AWS::KMS::Key" {
		fail("OrdersTopic: KmsMasterKeyId %v is not a KMS key of the stack", get(res["OrdersTopic"], "Properties", "KmsMasterKeyId"))
	} else {
		if get(res[key], "Properties", "EnableKeyRotation") != true {
			fail("%s: EnableKeyRotation is not true", key)
		}
		users := map[string]bool{}
		for _, st := range anySlice(get(res[key], "Properties", "KeyPolicy", "Statement")) {
			acts := fmt.Sprint(get(st, "Action"))
			if get(st, "Effect") == "Allow" && strings.Contains(acts, "kms:GenerateDataKey") && strings.Contains(acts, "kms:Decrypt") {
				for _, p := range principals(get(st, "Principal", "AWS")) {
					users[p] = true
				}
			}
		}
		for p := range publishers {
			if !users[p] {
				fail("%s: the key policy does not let %s use it (kms:GenerateDataKey*, kms:Decrypt): publishing would fail", key, p)
			}
		}
	}
	var topicPolicy any
	for name, r := range res {
		if tp.typeOf(name) == "AWS::SNS::TopicPolicy" && slices.ContainsFunc(anySlice(get(r, "Properties", "Topics")), func(t any) bool { return ref(t) == "OrdersTopic" }) {
			topicPolicy = r
		}
	}
	denies := func(policy any, action string, cond func(st any) bool) bool {
		for _, st := range anySlice(get(policy, "Properties", "PolicyDocument", "Statement")) {
			if get(st, "Effect") == "Deny" && get(st, "Principal") == "*" && strings.Contains(fmt.Sprint(get(st, "Action")), action) && cond(st) {
				return true
			}
		}
		return false
	}
	notTLS := func(st any) bool { return get(st, "Condition", "Bool", "aws:SecureTransport") == "false" }
	if topicPolicy == nil {
		fail("OrdersTopic has no AWS::SNS::TopicPolicy: its default policy lets any principal of the account publish")
	} else {
		for _, st := range anySlice(get(topicPolicy, "Properties", "PolicyDocument", "Statement")) {
			if get(st, "Effect") != "Allow" || !strings.Contains(fmt.Sprint(get(st, "Action")), "ublish") {
				continue
			}
			for _, p := range principals(get(st, "Principal", "AWS")) {
				if !publishers[p] {
					fail("OrdersTopicPolicy lets %s publish: only ApiFunctionRole (and PublisherRoleArn) may", p)
				}
			}
			if s := fmt.Sprint(get(st, "Principal")); strings.Contains(s, "*") {
				fail("OrdersTopicPolicy lets %s publish", s)
			}
		}
		if !denies(topicPolicy, "sns:Publish", func(st any) bool {
			exempt := principals(get(st, "Condition", "ArnNotEquals", "aws:PrincipalArn"))
			return len(exempt) == len(publishers) && !slices.ContainsFunc(exempt, func(p string) bool { return !publishers[p] })
		}) {
			fail("OrdersTopicPolicy: no Deny of sns:Publish to every principal but ApiFunctionRole and PublisherRoleArn (an identity policy of the account could allow it)")
		}
		if !denies(topicPolicy, "sns:Publish", notTLS) {
			fail("OrdersTopicPolicy: no Deny of sns:Publish without TLS (aws:SecureTransport false)")
		}
	}
	for name, r := range res {
		if tp.typeOf(name) != "AWS::SQS::Queue" {
			continue
		}
		tlsOnly := false
		for pname, pr := range res {
			if tp.typeOf(pname) == "AWS::SQS::QueuePolicy" && slices.ContainsFunc(anySlice(get(pr, "Properties", "Queues")), func(q any) bool { return ref(q) == name }) {
				if get(pr, "Condition") != get(r, "Condition") {
					fail("%s: its policy %s exists under condition %v, the queue under %v", name, pname, get(pr, "Condition"), get(r, "Condition"))
				}
				tlsOnly = tlsOnly || denies(pr, "sqs:*", notTLS)
			}
		}
		if !tlsOnly {
			fail("%s: no queue policy denies access without TLS (aws:SecureTransport false)", name)
		}
	}

	for _, fn := range tp.functions() {
		lc := tp.fnProp(fn, "LoggingConfig")
		if get(lc, "LogFormat") != "JSON" || ref(get(lc, "ApplicationLogLevel")) != "ApplicationLogLevel" || ref(get(lc, "SystemLogLevel")) != "SystemLogLevel" {
			fail("%s: LoggingConfig %v, want LogFormat JSON and the ApplicationLogLevel and SystemLogLevel parameters", fn, lc)
		}
	}

	for _, o := range []string{"ApiUrl", "OrdersTopicArn", "OrdersDeadLetterQueueUrl", "ProcessorFailureQueueUrl",
		"ApiFunctionName", "ProcessorFunctionName", "ApiLogGroupName", "ProcessorLogGroupName", "OrdersTableName"} {
		if get(tp, "Outputs", o, "Value") == nil {
			fail("output %s is missing", o)
		}
	}
	if v := get(tp, "Outputs", "OrdersTableName", "Value"); ref(v) != "OrdersTable" {
		fail("output OrdersTableName is %v, want !Ref OrdersTable", v)
	}
	for _, p := range []string{"PaymentDelay", "MemorySize"} {
		if get(tp, "Parameters", p) == nil {
			fail("parameter %s is missing", p)
		}
	}
	if pat := str(get(tp, "Parameters", "PaymentDelay", "AllowedPattern")); pat != "" {
		re, err := regexp.Compile(pat)
		if err != nil || !re.MatchString(str(get(tp, "Parameters", "PaymentDelay", "Default"))) {
			fail("PaymentDelay's default does not match its AllowedPattern %q", pat)
		}
	}
	return errs
}

func anySlice(v any) []any { s, _ := v.([]any); return s }

// checkDefaults fails t for every parameter of tp that listed lacks or
// gives another value than its default, and for every name listed that tp
// does not declare; where names the list in the messages.
func checkDefaults(t *testing.T, tp template, listed map[string]string, where string) {
	t.Helper()
	declared, _ := tp["Parameters"].(map[string]any)
	for name := range declared {
		v, ok := listed[name]
		if d := fmt.Sprint(get(tp, "Parameters", name, "Default")); !ok || v != d {
			t.Errorf("%s: %s=%q (listed %v), want the template default %q", where, name, v, ok, d)
		}
	}
	for name := range listed {
		if declared[name] == nil {
			t.Errorf("%s names parameter %s, which template.yaml does not declare", where, name)
		}
	}
}

// principals names the resources or parameters a principal value refers to:
// !GetAtt X.Arn is X, !Ref P is P, a list or both branches of an !If all of
// theirs; a literal ARN or "*" is itself.
func principals(v any) []string {
	if r, _ := getAtt(v); r != "" {
		return []string{r}
	}
	if r := ref(v); r != "" {
		return []string{r}
	}
	var out []string
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			out = append(out, principals(e)...)
		}
	case map[string]any:
		if branches, ok := x["Fn::If"].([]any); ok && len(branches) == 3 {
			seen := map[string]bool{}
			for _, b := range branches[1:] {
				for _, p := range principals(b) {
					if !seen[p] {
						seen[p] = true
						out = append(out, p)
					}
				}
			}
		}
	case string:
		out = append(out, x)
	}
	return out
}

// snsMaySend reports whether a queue policy of the template lets SNS send
// OrdersTopic's messages to queue.
func snsMaySend(tp template, queue string) bool {
	for name, r := range tp.resources() {
		if tp.typeOf(name) != "AWS::SQS::QueuePolicy" {
			continue
		}
		if !slices.ContainsFunc(anySlice(get(r, "Properties", "Queues")), func(q any) bool { return ref(q) == queue }) {
			continue
		}
		for _, st := range anySlice(get(r, "Properties", "PolicyDocument", "Statement")) {
			if get(st, "Effect") == "Allow" && get(st, "Principal", "Service") == "sns.amazonaws.com" &&
				get(st, "Action") == "sqs:SendMessage" && ref(get(st, "Condition", "ArnEquals", "aws:SourceArn")) == "OrdersTopic" {
				return true
			}
		}
	}
	return false
}

func TestTemplateWiring(t *testing.T) {
	tp := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
	for _, e := range checkWiring(tp) {
		t.Error(e)
	}
	if got := tp.functions(); !slices.Equal(got, []string{"ApiFunction", "ProcessorFunction"}) {
		t.Errorf("functions = %v, want ApiFunction and ProcessorFunction", got)
	}
}

// TestTemplateWiringCatchesMistakes breaks the template in the ways the
// wiring test must notice.
func TestTemplateWiringCatchesMistakes(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(tp template)
		want   string
	}{
		{"route to another function", func(tp template) {
			ev := get(tp.resources()["ApiFunction"], "Properties", "Events").(map[string]any)
			get(tp.resources()["ProcessorFunction"], "Properties").(map[string]any)["Events"] = map[string]any{"Health": ev["Health"]}
			delete(ev, "Health")
		}, "route GET /health reaches ProcessorFunction"},
		{"processor subscribed through a SAM event", func(tp template) {
			get(tp.resources()["ProcessorFunction"], "Properties").(map[string]any)["Events"] = map[string]any{
				"Orders": map[string]any{"Type": "SNS", "Properties": map[string]any{"Topic": map[string]any{"Ref": "OrdersTopic"}}}}
		}, "ProcessorFunction: Events"},
		{"processor always subscribed", func(tp template) {
			delete(tp.resources()["ProcessorFunctionOrders"].(map[string]any), "Condition")
		}, "ProcessorFunctionOrders: Condition <nil>, want SubscribeProcessor"},
		{"processor not subscribed", func(tp template) { delete(tp.resources(), "ProcessorFunctionOrders") }, "ProcessorFunction has no SNS subscription to OrdersTopic"},
		{"SNS may not invoke the processor", func(tp template) { delete(tp.resources(), "ProcessorFunctionOrdersPermission") }, "no AWS::Lambda::Permission lets OrdersTopic invoke ProcessorFunction"},
		{"anyone may invoke the processor", func(tp template) {
			delete(get(tp.resources()["ProcessorFunctionOrdersPermission"], "Properties").(map[string]any), "SourceArn")
		}, "ProcessorFunctionOrdersPermission: want lambda:InvokeFunction for sns.amazonaws.com from OrdersTopic only"},
		{"route missing", func(tp template) {
			delete(get(tp.resources()["ApiFunction"], "Properties", "Events").(map[string]any), "SyncOrder")
		}, "route POST /orders/sync is missing"},
		{"processor may publish", func(tp template) {
			pols := get(tp.resources()["ProcessorFunctionRole"], "Properties", "Policies").([]any)
			get(tp.resources()["ProcessorFunctionRole"], "Properties").(map[string]any)["Policies"] = append(pols, map[string]any{
				"PolicyName": "x", "PolicyDocument": map[string]any{"Statement": []any{map[string]any{"Effect": "Allow", "Action": "sns:Publish", "Resource": map[string]any{"Ref": "OrdersTopic"}}}}})
		}, "ProcessorFunction may publish"},
		{"role grants publish", func(tp template) {
			tp.resources()["ExtraRole"] = map[string]any{"Type": "AWS::IAM::Role", "Properties": map[string]any{"Action": "sns:Publish"}}
		}, "ExtraRole grants sns:Publish"},
		{"logs on every group", func(tp template) {
			st := anySlice(get(anySlice(get(tp.resources()["ApiFunctionRole"], "Properties", "Policies"))[0], "PolicyDocument", "Statement"))[0]
			st.(map[string]any)["Resource"] = "*"
		}, "grants logs:CreateLogStream on *, want on ApiLogGroup.Arn only"},
		{"basic execution role", func(tp template) {
			get(tp.resources()["ProcessorFunctionRole"], "Properties").(map[string]any)["ManagedPolicyArns"] = []any{"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}
		}, "ProcessorFunctionRole (role of ProcessorFunction): managed policies"},
		{"generated role", func(tp template) {
			delete(get(tp.resources()["ApiFunction"], "Properties").(map[string]any), "Role")
		}, "ApiFunction: Role <nil> is not a role of the template"},
		{"no failure destination grant", func(tp template) {
			pols := get(tp.resources()["ProcessorFunctionRole"], "Properties", "Policies").([]any)
			get(tp.resources()["ProcessorFunctionRole"], "Properties").(map[string]any)["Policies"] = pols[:1]
		}, "lacks sqs:SendMessage on ProcessorFailureQueue.Arn"},
		{"unencrypted topic", func(tp template) {
			delete(get(tp.resources()["OrdersTopic"], "Properties").(map[string]any), "KmsMasterKeyId")
		}, "OrdersTopic: KmsMasterKeyId <nil> is not a KMS key of the stack"},
		{"key the API may not use", func(tp template) {
			st := get(tp.resources()["OrdersKey"], "Properties", "KeyPolicy").(map[string]any)
			st["Statement"] = anySlice(st["Statement"])[:1]
		}, "the key policy does not let ApiFunctionRole use it"},
		{"a stranger publishes", func(tp template) {
			st := anySlice(get(tp.resources()["OrdersTopicPolicy"], "Properties", "PolicyDocument", "Statement"))[0].(map[string]any)
			st["Principal"] = map[string]any{"AWS": "arn:aws:iam::111122223333:root"}
		}, "OrdersTopicPolicy lets arn:aws:iam::111122223333:root publish"},
		{"default topic policy", func(tp template) { delete(tp.resources(), "OrdersTopicPolicy") }, "OrdersTopic has no AWS::SNS::TopicPolicy"},
		{"anyone in the account publishes", func(tp template) {
			doc := get(tp.resources()["OrdersTopicPolicy"], "Properties", "PolicyDocument").(map[string]any)
			doc["Statement"] = append(anySlice(doc["Statement"])[:1], anySlice(doc["Statement"])[2:]...)
		}, "no Deny of sns:Publish to every principal but ApiFunctionRole"},
		{"publish without TLS", func(tp template) {
			doc := get(tp.resources()["OrdersTopicPolicy"], "Properties", "PolicyDocument").(map[string]any)
			doc["Statement"] = anySlice(doc["Statement"])[:2]
		}, "no Deny of sns:Publish without TLS"},
		{"queue without TLS", func(tp template) { delete(tp.resources(), "ProcessorFailureQueuePolicy") }, "ProcessorFailureQueue: no queue policy denies access without TLS"},
		{"no access log", func(tp template) {
			delete(get(tp.resources()["OrdersHttpApi"], "Properties").(map[string]any), "AccessLogSettings")
		}, "AccessLogSettings.DestinationArn <nil>"},
		{"sync route without detailed metrics", func(tp template) {
			delete(get(tp.resources()["OrdersHttpApi"], "Properties", "RouteSettings", "POST /orders/sync").(map[string]any), "DetailedMetricsEnabled")
		}, "RouteSettings[POST /orders/sync].DetailedMetricsEnabled is not true"},
		{"text logs", func(tp template) {
			get(tp.resources()["ApiFunction"], "Properties", "LoggingConfig").(map[string]any)["LogFormat"] = "Text"
		}, "ApiFunction: LoggingConfig"},
		{"no redrive policy", func(tp template) {
			delete(get(tp.resources()["ProcessorFunctionOrders"], "Properties").(map[string]any), "RedrivePolicy")
		}, "RedrivePolicy does not target"},
		{"no queue policy", func(tp template) { delete(tp.resources(), "OrdersDeadLetterQueuePolicy") }, "no AWS::SQS::QueuePolicy"},
		{"processor uncapped", func(tp template) {
			delete(get(tp.resources()["ProcessorFunction"], "Properties").(map[string]any), "ReservedConcurrentExecutions")
		}, "ProcessorFunction: ReservedConcurrentExecutions <nil>"},
		{"zero reserved", func(tp template) {
			get(tp, "Parameters", "ApiReservedConcurrency").(map[string]any)["AllowedPattern"] = "^[0-9]*$"
		}, "ApiReservedConcurrency: AllowedPattern"},
		{"queue deleted with the stack", func(tp template) {
			delete(tp.resources()["ProcessorFailureQueue"].(map[string]any), "DeletionPolicy")
		}, "ProcessorFailureQueue: DeletionPolicy <nil>"},
		{"queue replaced without retaining", func(tp template) {
			delete(tp.resources()["WorkerDeadLetterQueue"].(map[string]any), "UpdateReplacePolicy")
		}, "WorkerDeadLetterQueue: DeletionPolicy Retain, UpdateReplacePolicy <nil>"},
		{"shared subscription dead-letter queue", func(tp template) {
			get(tp.resources()["WorkerOrdersSubscription"], "Properties", "RedrivePolicy").(map[string]any)["deadLetterTargetArn"] = map[string]any{"Fn::GetAtt": []any{"OrdersDeadLetterQueue", "Arn"}}
		}, "share the dead-letter queue OrdersDeadLetterQueue.Arn"},
		{"no failure destination", func(tp template) {
			delete(get(tp.resources()["ProcessorFunction"], "Properties").(map[string]any), "EventInvokeConfig")
		}, "OnFailure is not an SQS queue"},
		{"x86", func(tp template) {
			get(tp, "Globals", "Function").(map[string]any)["Architectures"] = []any{"x86_64"}
		}, "want [arm64]"},
		{"x86 by default", func(tp template) {
			get(tp, "Parameters", "Architecture").(map[string]any)["Default"] = "x86_64"
		}, "want [arm64]"},
		{"a third architecture", func(tp template) {
			get(tp, "Parameters", "Architecture").(map[string]any)["AllowedValues"] = []any{"arm64", "x86_64", "s390x"}
		}, "want [arm64 x86_64]"},
		{"go1.x runtime", func(tp template) {
			get(tp.resources()["ProcessorFunction"], "Properties").(map[string]any)["Runtime"] = "go1.x"
		}, "ProcessorFunction: Runtime go1.x"},
		{"no build method", func(tp template) { delete(tp.resources()["ApiFunction"].(map[string]any), "Metadata") }, "BuildMethod"},
		{"short timeout", func(tp template) {
			get(tp.resources()["ProcessorFunction"], "Properties").(map[string]any)["Timeout"] = 3
		}, "not comfortably above"},
		{"no sync route settings", func(tp template) {
			delete(get(tp.resources()["OrdersHttpApi"], "Properties").(map[string]any), "RouteSettings")
		}, "RouteSettings[POST /orders/sync].ThrottlingRateLimit is not a positive number"},
		{"sync limit as high as the default", func(tp template) {
			get(tp, "Parameters", "SyncThrottlingBurstLimit").(map[string]any)["Default"] = 200
		}, "ThrottlingBurstLimit 200 is not below"},
		{"route settings for a missing route", func(tp template) {
			rs := get(tp.resources()["OrdersHttpApi"], "Properties", "RouteSettings").(map[string]any)
			rs["POST /orders"] = rs["POST /orders/sync"]
		}, `names "POST /orders"`},
		{"API timeout below the sync deadline", func(tp template) {
			get(tp.resources()["ApiFunction"], "Properties").(map[string]any)["Timeout"] = 25
		}, "REQUEST_TIMEOUT 25s leaves less than"},
		{"no publish timeout", func(tp template) {
			delete(get(tp.resources()["ApiFunction"], "Properties", "Environment", "Variables").(map[string]any), "PUBLISH_TIMEOUT")
		}, "PUBLISH_TIMEOUT"},

		// The order store.
		{"no orders table", func(tp template) { delete(tp.resources(), "OrdersTable") }, "OrdersTable is not an AWS::DynamoDB::Table"},
		{"table with a sort key", func(tp template) {
			p := tableProps(tp)
			p["KeySchema"] = append(anySlice(p["KeySchema"]), map[string]any{"AttributeName": "created_at", "KeyType": "RANGE"})
			p["AttributeDefinitions"] = append(anySlice(p["AttributeDefinitions"]), map[string]any{"AttributeName": "created_at", "AttributeType": "S"})
		}, "OrdersTable: KeySchema [order_id HASH created_at RANGE], want [order_id HASH]"},
		{"table keyed by another attribute", func(tp template) {
			anySlice(tableProps(tp)["KeySchema"])[0].(map[string]any)["AttributeName"] = "id"
		}, "OrdersTable: KeySchema [id HASH]"},
		{"numeric key", func(tp template) {
			anySlice(tableProps(tp)["AttributeDefinitions"])[0].(map[string]any)["AttributeType"] = "N"
		}, "OrdersTable: AttributeDefinitions [order_id N], want [order_id S]"},
		{"provisioned table", func(tp template) { tableProps(tp)["BillingMode"] = "PROVISIONED" }, "BillingMode PROVISIONED, want PAY_PER_REQUEST"},
		{"TTL on another attribute", func(tp template) {
			tableProps(tp)["TimeToLiveSpecification"].(map[string]any)["AttributeName"] = "ttl"
		}, "want enabled on expires_at"},
		{"TTL disabled", func(tp template) {
			tableProps(tp)["TimeToLiveSpecification"].(map[string]any)["Enabled"] = false
		}, "want enabled on expires_at"},
		{"no TTL", func(tp template) { delete(tableProps(tp), "TimeToLiveSpecification") }, "OrdersTable: TimeToLiveSpecification <nil>"},
		{"table without SSE", func(tp template) { delete(tableProps(tp), "SSESpecification") }, "OrdersTable: SSESpecification <nil>"},
		{"table with SSE off", func(tp template) {
			tableProps(tp)["SSESpecification"].(map[string]any)["SSEEnabled"] = false
		}, "want SSEEnabled true and SSEType KMS"},
		{"table without point-in-time recovery", func(tp template) { delete(tableProps(tp), "PointInTimeRecoverySpecification") }, "PointInTimeRecoveryEnabled true"},
		{"table with a fixed name", func(tp template) { tableProps(tp)["TableName"] = "orders" }, "OrdersTable: TableName orders"},
		{"table deleted with the stack", func(tp template) {
			delete(tp.resources()["OrdersTable"].(map[string]any), "DeletionPolicy")
		}, "OrdersTable: DeletionPolicy <nil>, UpdateReplacePolicy Retain"},
		{"table replaced without retaining", func(tp template) {
			tp.resources()["OrdersTable"].(map[string]any)["UpdateReplacePolicy"] = "Delete"
		}, "OrdersTable: DeletionPolicy Retain, UpdateReplacePolicy Delete"},
		{"no ORDERS_TABLE", func(tp template) {
			delete(get(tp, "Globals", "Function", "Environment", "Variables").(map[string]any), "ORDERS_TABLE")
		}, "ProcessorFunction: ORDERS_TABLE is <nil>, want !Ref OrdersTable"},
		{"API overrides ORDERS_TABLE", func(tp template) {
			get(tp.resources()["ApiFunction"], "Properties", "Environment", "Variables").(map[string]any)["ORDERS_TABLE"] = "orders"
		}, "ApiFunction: ORDERS_TABLE is orders, want !Ref OrdersTable"},
		{"no GET /orders/{id}", func(tp template) {
			delete(get(tp.resources()["ApiFunction"], "Properties", "Events").(map[string]any), "GetOrder")
		}, "route GET /orders/{id} is missing"},
		{"no table output", func(tp template) { delete(get(tp, "Outputs").(map[string]any), "OrdersTableName") }, "output OrdersTableName is missing"},
		{"API may scan", func(tp template) {
			st := tableStatement(tp, "ApiFunctionRole")
			st["Action"] = append(anySlice(st["Action"]), "dynamodb:Scan")
		}, "ApiFunctionRole (role of ApiFunction) grants dynamodb:Scan, which it does not need"},
		{"API may delete", func(tp template) {
			st := tableStatement(tp, "ApiFunctionRole")
			st["Action"] = append(anySlice(st["Action"]), "dynamodb:DeleteItem")
		}, "grants dynamodb:DeleteItem, which it does not need"},
		{"every DynamoDB action", func(tp template) { tableStatement(tp, "ApiFunctionRole")["Action"] = "dynamodb:*" }, "grants dynamodb:*, which it does not need"},
		{"API cannot read", func(tp template) {
			st := tableStatement(tp, "ApiFunctionRole")
			st["Action"] = slices.DeleteFunc(anySlice(st["Action"]), func(a any) bool { return a == "dynamodb:GetItem" })
		}, "ApiFunctionRole (role of ApiFunction) lacks dynamodb:GetItem on OrdersTable.Arn"},
		{"table grant on every resource", func(tp template) { tableStatement(tp, "ApiFunctionRole")["Resource"] = "*" }, "grants dynamodb:PutItem on *, want on OrdersTable.Arn only"},
		{"table grant on its indexes", func(tp template) {
			tableStatement(tp, "ProcessorFunctionRole")["Resource"] = map[string]any{"Fn::Sub": "${OrdersTable.Arn}/index/*"}
		}, "grants dynamodb:UpdateItem on map[Fn::Sub:${OrdersTable.Arn}/index/*], want on OrdersTable.Arn only"},
		{"processor reads", func(tp template) {
			tableStatement(tp, "ProcessorFunctionRole")["Action"] = []any{"dynamodb:UpdateItem", "dynamodb:GetItem"}
		}, "ProcessorFunctionRole (role of ProcessorFunction) grants dynamodb:GetItem, which it does not need"},
		{"processor puts", func(tp template) {
			tableStatement(tp, "ProcessorFunctionRole")["Action"] = []any{"dynamodb:UpdateItem", "dynamodb:PutItem"}
		}, "ProcessorFunctionRole (role of ProcessorFunction) grants dynamodb:PutItem, which it does not need"},
		{"processor cannot claim", func(tp template) {
			tableStatement(tp, "ProcessorFunctionRole")["Action"] = []any{}
		}, "ProcessorFunctionRole (role of ProcessorFunction) lacks dynamodb:UpdateItem on OrdersTable.Arn"},
		{"allow everything but", func(tp template) {
			st := tableStatement(tp, "ProcessorFunctionRole")
			delete(st, "Action")
			st["NotAction"] = "dynamodb:DeleteTable"
		}, "ProcessorFunctionRole (role of ProcessorFunction) allows with NotAction dynamodb:DeleteTable"},
		{"KMS in a role", func(tp template) {
			st := tableStatement(tp, "ProcessorFunctionRole")
			st["Action"] = []any{"dynamodb:UpdateItem", "kms:Decrypt"}
		}, "grants kms:Decrypt, which it does not need"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
			tt.mutate(tp)
			errs := strings.Join(checkWiring(tp), "\n")
			if !strings.Contains(errs, tt.want) {
				t.Fatalf("wiring check missed it: want an error containing %q, got:\n%s", tt.want, errs)
			}
		})
	}
}

// tableProps is OrdersTable's Properties, to break.
func tableProps(tp template) map[string]any {
	return get(tp.resources()["OrdersTable"], "Properties").(map[string]any)
}

// tableStatement is the statement of role's inline policy orders-table, to
// break.
func tableStatement(tp template, role string) map[string]any {
	for _, pol := range anySlice(get(tp.resources()[role], "Properties", "Policies")) {
		if get(pol, "PolicyName") == "orders-table" {
			return anySlice(get(pol, "PolicyDocument", "Statement"))[0].(map[string]any)
		}
	}
	panic(role + " has no policy orders-table")
}

func TestLoadTemplateShortForms(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.yaml")
	src := "A: !Ref X\nB: !GetAtt Q.Arn\nC: !Sub \"${AWS::StackName}-x\"\nD: !Join [\"-\", [a, !Ref Y]]\nE: 3\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	tp := loadTemplate(t, path)
	if ref(tp["A"]) != "X" {
		t.Errorf("!Ref: %v", tp["A"])
	}
	if r, a := getAtt(tp["B"]); r != "Q" || a != "Arn" {
		t.Errorf("!GetAtt: %v", tp["B"])
	}
	if get(tp["C"], "Fn::Sub") != "${AWS::StackName}-x" {
		t.Errorf("!Sub: %v", tp["C"])
	}
	if j := anySlice(get(tp["D"], "Fn::Join")); len(j) != 2 || ref(anySlice(j[1])[1]) != "Y" {
		t.Errorf("!Join: %v", tp["D"])
	}
	if tp["E"] != 3 {
		t.Errorf("plain scalar: %v (%T)", tp["E"], tp["E"])
	}
}

// TestTemplateBuildTargets runs what `sam build` runs for each function:
// `make build-<LogicalId>` in its CodeUri, for arm64, and checks the
// bootstrap it writes.
func TestTemplateBuildTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles both functions")
	}
	tp := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
	for _, fn := range tp.functions() {
		t.Run(fn, func(t *testing.T) {
			dir := filepath.Join(repoRoot, str(tp.fnProp(fn, "CodeUri")))
			mk, err := os.ReadFile(filepath.Join(dir, "Makefile"))
			if err != nil {
				t.Fatalf("CodeUri %s has no Makefile: %v", dir, err)
			}
			if !regexp.MustCompile(`(?m)^([\w-]+ )*build-` + fn + `( [\w-]+)*:`).Match(mk) {
				t.Fatalf("%s/Makefile has no target build-%s", dir, fn)
			}
			out := t.TempDir()
			cmd := exec.Command("make", "--no-print-directory", "build-"+fn, "ARTIFACTS_DIR="+out)
			cmd.Dir = dir
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("make build-%s: %v\n%s", fn, err, b)
			}
			checkELF(t, filepath.Join(out, "bootstrap"), "arm64")
		})
	}
}

// TestSamconfig reads samconfig.toml (with a TOML parser, as SAM does): the
// defaults of build and deploy; every parameter of the template in
// parameter_overrides, with its default; and `sam sync` on a stack of its
// own in every environment, never the deployed one.
func TestSamconfig(t *testing.T) {
	var cfg map[string]any
	if _, err := toml.DecodeFile(filepath.Join(repoRoot, "samconfig.toml"), &cfg); err != nil {
		t.Fatalf("samconfig.toml: %v", err)
	}
	param := func(env, cmd, key string) any { return get(cfg, env, cmd, "parameters", key) }
	for _, c := range []struct {
		env, cmd, key string
		want          any
	}{
		{"default", "global", "stack_name", "flashsale"},
		{"default", "build", "cached", false},
		{"default", "build", "build_in_source", true},
		{"default", "build", "parallel", true},
		{"default", "validate", "lint", true},
		{"default", "deploy", "capabilities", "CAPABILITY_IAM"},
		{"default", "deploy", "confirm_changeset", true},
		{"default", "deploy", "resolve_s3", true},
		{"default", "local_start_api", "warm_containers", "EAGER"},
	} {
		if got := param(c.env, c.cmd, c.key); got != c.want {
			t.Errorf("[%s.%s.parameters] %s = %v, want %v", c.env, c.cmd, c.key, got, c.want)
		}
	}
	if v := get(cfg, "version"); v != 0.1 {
		t.Errorf("version = %v, want 0.1", v)
	}

	tp := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
	overrides := map[string]string{}
	for _, kv := range regexp.MustCompile(`(\w+)="([^"]*)"`).FindAllStringSubmatch(str(param("default", "deploy", "parameter_overrides")), -1) {
		overrides[kv[1]] = kv[2]
	}
	checkDefaults(t, tp, overrides, "samconfig.toml parameter_overrides")

	deployed := str(param("default", "global", "stack_name"))
	if s := param("default", "deploy", "stack_name"); s != nil {
		deployed = str(s)
	}
	if get(cfg, "dev", "sync") == nil {
		t.Error("no [dev.sync.parameters]: `sam sync --config-env dev` is the documented way to sync")
	}
	for env := range cfg {
		if get(cfg, env, "sync") == nil {
			continue
		}
		stack := str(param(env, "global", "stack_name"))
		if s := param(env, "sync", "stack_name"); s != nil {
			stack = str(s)
		}
		if stack == "" || stack == deployed {
			t.Errorf("[%s] sam sync would change stack %q, the deployed one: give sync a stack of its own", env, stack)
		}
	}
}

// TestPaymentDelayPattern: PaymentDelay's AllowedPattern accepts exactly the
// durations both functions start with (above zero) and that fit the
// processor's timeout (below 20 s), so a deploy cannot succeed with a value
// every invocation would then fail on.
func TestPaymentDelayPattern(t *testing.T) {
	tp := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
	re, err := regexp.Compile(str(get(tp, "Parameters", "PaymentDelay", "AllowedPattern")))
	if err != nil {
		t.Fatalf("PaymentDelay AllowedPattern: %v", err)
	}
	tests := []struct {
		value string
		ok    bool
	}{
		{"3s", true}, {"500ms", true}, {"1ms", true}, {"19999ms", true}, {"19.999s", true},
		{"10s", true}, {"1.5s", true}, {"0.5s", true}, {"0.05s", true}, {"0.001s", true}, {"0.100s", true},
		{"0s", false}, {"0ms", false}, {"00ms", false}, {"0000ms", false}, {"0.0s", false}, {"0.000s", false},
		{"00s", false}, {"05ms", false}, {"20s", false}, {"20000ms", false}, {"19.9999s", false},
		{"3", false}, {"-1s", false}, {"1m", false}, {"", false}, {" 3s", false},
	}
	for _, tt := range tests {
		if got := re.MatchString(tt.value); got != tt.ok {
			t.Errorf("PaymentDelay %q accepted = %v, want %v", tt.value, got, tt.ok)
		}
	}
	// The pattern accepts exactly what the functions accept.
	for ms := 0; ms <= 21000; ms++ {
		want := ms > 0 && ms < 20000
		for _, v := range []string{
			strconv.Itoa(ms) + "ms",
			strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64) + "s",
			fmt.Sprintf("%d.%03ds", ms/1000, ms%1000),
		} {
			if got := re.MatchString(v); got != want {
				t.Errorf("PaymentDelay %q accepted = %v, want %v", v, got, want)
				continue
			}
			getenv := func(k string) string {
				if k == serverless.EnvPaymentDelay {
					return v
				}
				return ""
			}
			if _, err := serverless.PaymentFromEnv(getenv); (err == nil) != want {
				t.Errorf("PaymentDelay %q: accepted by the template %v, by the functions %v (%v)", v, want, err == nil, err)
			}
		}
	}
}

// TestEnvVarsDeclared: `sam local invoke --env-vars` only overrides the
// variables the template declares for a function, so each one that
// events/env.json sets must be declared (in Globals or the function).
func TestEnvVarsDeclared(t *testing.T) {
	tp := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
	data, err := os.ReadFile(filepath.Join(repoRoot, "events", envFile))
	if err != nil {
		t.Fatal(err)
	}
	var vars map[string]map[string]string
	if err := json.Unmarshal(data, &vars); err != nil {
		t.Fatalf("events/%s: %v", envFile, err)
	}
	for fn, set := range vars {
		if tp.typeOf(fn) != "AWS::Serverless::Function" {
			t.Errorf("events/%s sets variables of %s, not a function of the template", envFile, fn)
			continue
		}
		for name := range set {
			if get(tp.resources()[fn], "Properties", "Environment", "Variables", name) == nil &&
				get(tp, "Globals", "Function", "Environment", "Variables", name) == nil {
				t.Errorf("events/%s sets %s.%s, which template.yaml does not declare: sam local invoke would ignore it", envFile, fn, name)
			}
		}
	}
}

// openRoutes are the API function's routes that need no token: a health
// check, and the default route (unknown paths get the handler's 404).
var openRoutes = map[string]bool{"GET /health": true, "ANY $default": true}

// checkJwt checks the optional JWT authorizer: with JwtIssuer set, every
// route of the API function but the open ones requires the OrdersJwt
// authorizer; with it empty, the OpenAPI body holds no authorizer and no
// requirement.
func checkJwt(tp template) []string {
	var errs []string
	cond := get(tp, "Conditions", "RequireJwt", "Fn::Not")
	if eq := anySlice(get(anySlice(cond)[0], "Fn::Equals")); len(anySlice(cond)) != 1 || len(eq) != 2 || ref(eq[0]) != "JwtIssuer" || str(eq[1]) != "" {
		errs = append(errs, fmt.Sprintf("condition RequireJwt = %v, want JwtIssuer not empty", cond))
	}
	if get(tp, "Parameters", "JwtAudience", "Type") != "CommaDelimitedList" || get(tp, "Parameters", "JwtIssuer", "Default") != "" {
		errs = append(errs, "JwtIssuer (default empty) and JwtAudience (a CommaDelimitedList) are the authorizer's parameters")
	}
	if rule := get(tp, "Rules", "JwtAudienceWithIssuer"); !strings.Contains(fmt.Sprint(get(rule, "RuleCondition")), "JwtIssuer") ||
		!strings.Contains(fmt.Sprint(get(rule, "Assertions")), "JwtAudience") {
		errs = append(errs, "no rule requiring JwtAudience with JwtIssuer")
	}
	body := get(tp.resources()["OrdersHttpApi"], "Properties", "DefinitionBody")
	scheme := anySlice(get(body, "components", "Fn::If"))
	var authz any
	if len(scheme) != 3 || str(scheme[0]) != "RequireJwt" || ref(scheme[2]) != "AWS::NoValue" {
		errs = append(errs, "components: want Fn::If RequireJwt, the OrdersJwt scheme, AWS::NoValue")
	} else {
		authz = get(scheme[1], "securitySchemes", "OrdersJwt", "x-amazon-apigateway-authorizer")
	}
	if str(get(authz, "type")) != "jwt" || str(get(authz, "identitySource")) != "$request.header.Authorization" ||
		ref(get(authz, "jwtConfiguration", "issuer")) != "JwtIssuer" || ref(get(authz, "jwtConfiguration", "audience")) != "JwtAudience" {
		errs = append(errs, fmt.Sprintf("OrdersJwt authorizer %v: want a jwt authorizer on the Authorization header, issuer JwtIssuer, audience JwtAudience", authz))
	}
	routes := map[string]bool{}
	for _, ev := range get(tp.resources()["ApiFunction"], "Properties", "Events").(map[string]any) {
		if str(get(ev, "Type")) != "HttpApi" {
			continue
		}
		method, path := str(get(ev, "Properties", "Method")), str(get(ev, "Properties", "Path"))
		routes[method+" "+path] = true
		op := get(body, "paths", path, strings.ToLower(method))
		sec := anySlice(get(op, "security", "Fn::If"))
		guarded := len(sec) == 3 && str(sec[0]) == "RequireJwt" && ref(sec[2]) == "AWS::NoValue" &&
			len(anySlice(sec[1])) == 1 && get(anySlice(sec[1])[0], "OrdersJwt") != nil
		switch {
		case openRoutes[method+" "+path] && get(op, "security") != nil:
			errs = append(errs, fmt.Sprintf("route %s %s requires a token; it must stay open", method, path))
		case !openRoutes[method+" "+path] && !guarded:
			errs = append(errs, fmt.Sprintf("route %s %s: want security Fn::If RequireJwt [{OrdersJwt: []}] in the OpenAPI body", method, path))
		}
	}
	for path, ops := range get(body, "paths").(map[string]any) {
		for method := range ops.(map[string]any) {
			if !routes[strings.ToUpper(method)+" "+path] {
				errs = append(errs, fmt.Sprintf("the OpenAPI body has %s %s, which no event of ApiFunction routes", method, path))
			}
		}
	}
	return errs
}

func TestTemplateJwtAuthorizer(t *testing.T) {
	tp := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
	for _, e := range checkJwt(tp) {
		t.Error(e)
	}
	re, err := regexp.Compile(str(get(tp, "Parameters", "JwtIssuer", "AllowedPattern")))
	if err != nil {
		t.Fatal(err)
	}
	for v, ok := range map[string]bool{"": true, "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc": true,
		"http://issuer.example": false, "https://": false, "https://a b": false, "issuer": false} {
		if re.MatchString(v) != ok {
			t.Errorf("JwtIssuer %q accepted = %v, want %v", v, !ok, ok)
		}
	}
	mutations := []struct {
		name   string
		mutate func(tp template)
		want   string
	}{
		{"order route without the requirement", func(tp template) {
			paths := get(tp.resources()["OrdersHttpApi"], "Properties", "DefinitionBody", "paths").(map[string]any)
			delete(paths, "/orders/{id}")
		}, "route GET /orders/{id}: want security"},
		{"health behind the authorizer", func(tp template) {
			paths := get(tp.resources()["OrdersHttpApi"], "Properties", "DefinitionBody", "paths").(map[string]any)
			paths["/health"] = map[string]any{"get": paths["/orders/sync"].(map[string]any)["post"]}
		}, "route GET /health requires a token"},
		{"unconditional authorizer", func(tp template) {
			body := get(tp.resources()["OrdersHttpApi"], "Properties", "DefinitionBody").(map[string]any)
			body["components"] = anySlice(get(body, "components", "Fn::If"))[1]
		}, "components: want Fn::If RequireJwt"},
		{"a route SAM does not know", func(tp template) {
			paths := get(tp.resources()["OrdersHttpApi"], "Properties", "DefinitionBody", "paths").(map[string]any)
			paths["/orders"] = map[string]any{"delete": map[string]any{}}
		}, "which no event of ApiFunction routes"},
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			tp := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
			m.mutate(tp)
			if errs := checkJwt(tp); !strings.Contains(strings.Join(errs, "\n"), m.want) {
				t.Errorf("errors %q, want one containing %q", errs, m.want)
			}
		})
	}
}

// ruleFunctions are the intrinsic functions CloudFormation allows in Rules.
var ruleFunctions = map[string]bool{"Fn::And": true, "Fn::Contains": true, "Fn::EachMemberEquals": true,
	"Fn::EachMemberIn": true, "Fn::Equals": true, "Fn::Not": true, "Fn::Or": true, "Fn::RefAll": true,
	"Fn::ValueOf": true, "Fn::ValueOfAll": true, "Ref": true}

// badRuleFunctions lists the intrinsic functions in v that Rules do not take.
func badRuleFunctions(v any) []string {
	var bad []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if (strings.HasPrefix(k, "Fn::") || k == "Ref") && !ruleFunctions[k] {
				bad = append(bad, k)
			}
			bad = append(bad, badRuleFunctions(x)...)
		}
	case []any:
		for _, x := range v {
			bad = append(bad, badRuleFunctions(x)...)
		}
	}
	return bad
}

func TestRulesUseRuleFunctions(t *testing.T) {
	tp := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
	rules, _ := get(tp, "Rules").(map[string]any)
	if len(rules) == 0 {
		t.Fatal("no Rules in the template")
	}
	for name, r := range rules {
		if bad := badRuleFunctions(r); len(bad) > 0 {
			t.Errorf("rule %s uses %v: CloudFormation rules take only %v", name, bad, slices.Sorted(maps.Keys(ruleFunctions)))
		}
	}
	if bad := badRuleFunctions(map[string]any{"Fn::Join": []any{"", map[string]any{"Ref": "X"}}}); len(bad) != 1 {
		t.Errorf("badRuleFunctions missed Fn::Join: %v", bad)
	}
}

// TestTaskDefinitionMatchesImage: the ECS task runs the binary where the
// image puts it, and its health check and listen address use the image's
// health port.
func TestTaskDefinitionMatchesImage(t *testing.T) {
	tp := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
	defs := anySlice(get(tp.resources()["WorkerTaskDefinition"], "Properties", "ContainerDefinitions"))
	if len(defs) != 1 {
		t.Fatalf("%d container definitions, want 1", len(defs))
	}
	c := defs[0]
	if ep := anySlice(get(c, "EntryPoint")); len(ep) == 0 || str(ep[0]) != ociimage.Binary {
		t.Errorf("EntryPoint %v, want the image's binary %s first", ep, ociimage.Binary)
	}
	health := fmt.Sprint(get(c, "HealthCheck", "Command"))
	if !strings.Contains(health, ociimage.Binary) || !strings.Contains(health, fmt.Sprintf(":%d/health", ociimage.HealthPort)) {
		t.Errorf("health check %s: want %s probing port %d", health, ociimage.Binary, ociimage.HealthPort)
	}
	if cmd := fmt.Sprint(get(c, "Command")); !strings.Contains(cmd, fmt.Sprintf("0.0.0.0:%d", ociimage.HealthPort)) {
		t.Errorf("Command %s: want the worker listening on 0.0.0.0:%d", cmd, ociimage.HealthPort)
	}
}
