package workerservice_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// loadTemplate reads template.yaml into plain values, turning the short
// forms of CloudFormation's functions into their long forms (!Ref X into
// {"Ref": "X"}, !GetAtt A.B into {"Fn::GetAtt": "A.B"}, and so on).
func loadTemplate(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	v, ok := plain(doc.Content[0]).(map[string]any)
	if !ok {
		t.Fatal("template.yaml is not a mapping")
	}
	return v
}

func plain(n *yaml.Node) any {
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = plain(n.Content[i+1])
		}
		v = m
	case yaml.SequenceNode:
		var s []any
		for _, c := range n.Content {
			s = append(s, plain(c))
		}
		v = s
	case yaml.AliasNode:
		return plain(n.Alias)
	default:
		v = n.Value
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") { // a local tag: !Ref, !GetAtt, ...
		name := strings.TrimPrefix(n.Tag, "!")
		if name != "Ref" && name != "Condition" {
			name = "Fn::" + name
		}
		return map[string]any{name: v}
	}
	return v
}

// get walks a path of keys in nested maps.
func get(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// TestTemplateWorkerQueue checks the wiring of issue 4 in template.yaml: the
// Processor parameter (default lambda; service or both run the worker
// service) adds the orders queue, raw delivery from OrdersTopic, its
// dead-letter queue after 5 receives, a visibility timeout several times the
// payment, and the queue's URL as an output.
func TestTemplateWorkerQueue(t *testing.T) {
	tpl := loadTemplate(t)
	res := func(name string) map[string]any {
		t.Helper()
		r, ok := get(tpl, "Resources", name).(map[string]any)
		if !ok {
			t.Fatalf("no resource %s", name)
		}
		return r
	}
	check := func(what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("Processor default", get(tpl, "Parameters", "Processor", "Default"), "lambda")
	check("RunService", get(tpl, "Conditions", "RunService"),
		map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "Processor"}, "lambda"}}}})

	for _, name := range []string{"WorkerOrdersQueue", "WorkerDeadLetterQueue", "WorkerOrdersQueuePolicy", "WorkerOrdersSubscription"} {
		check(name+" condition", res(name)["Condition"], "RunService")
	}
	q := res("WorkerOrdersQueue")
	check("queue type", q["Type"], "AWS::SQS::Queue")
	check("redrive target", get(q, "Properties", "RedrivePolicy", "deadLetterTargetArn"), map[string]any{"Fn::GetAtt": "WorkerDeadLetterQueue.Arn"})
	check("maxReceiveCount", get(q, "Properties", "RedrivePolicy", "maxReceiveCount"), "5")
	check("visibility timeout", get(q, "Properties", "VisibilityTimeout"), map[string]any{"Ref": "WorkerVisibilityTimeout"})
	vt, err := strconv.Atoi(fmt.Sprint(get(tpl, "Parameters", "WorkerVisibilityTimeout", "Default")))
	if err != nil || vt < 3*3 {
		t.Errorf("default visibility timeout %v s: want several times the 3 s payment", get(tpl, "Parameters", "WorkerVisibilityTimeout", "Default"))
	}
	dlqRetention, _ := strconv.Atoi(fmt.Sprint(get(res("WorkerDeadLetterQueue"), "Properties", "MessageRetentionPeriod")))
	qRetention, _ := strconv.Atoi(fmt.Sprint(get(q, "Properties", "MessageRetentionPeriod")))
	if dlqRetention <= qRetention {
		t.Errorf("dead-letter retention %d s not longer than the queue's %d s", dlqRetention, qRetention)
	}

	sub := res("WorkerOrdersSubscription")
	check("subscription type", sub["Type"], "AWS::SNS::Subscription")
	check("subscription topic", get(sub, "Properties", "TopicArn"), map[string]any{"Ref": "OrdersTopic"})
	check("subscription protocol", get(sub, "Properties", "Protocol"), "sqs")
	check("subscription endpoint", get(sub, "Properties", "Endpoint"), map[string]any{"Fn::GetAtt": "WorkerOrdersQueue.Arn"})
	check("raw delivery", get(sub, "Properties", "RawMessageDelivery"), "true")

	all, _ := get(res("WorkerOrdersQueuePolicy"), "Properties", "PolicyDocument", "Statement").([]any)
	var stmts []any // the Allow statements (a Deny refuses access without TLS)
	for _, st := range all {
		if get(st, "Effect") == "Allow" {
			stmts = append(stmts, st)
		}
	}
	if len(stmts) != 1 {
		t.Fatalf("queue policy Allow statements %v, want one", stmts)
	}
	check("policy principal", get(stmts[0], "Principal", "Service"), "sns.amazonaws.com")
	check("policy action", get(stmts[0], "Action"), "sqs:SendMessage")
	check("policy source", get(stmts[0], "Condition", "ArnEquals", "aws:SourceArn"), map[string]any{"Ref": "OrdersTopic"})
	check("policy queue", get(res("WorkerOrdersQueuePolicy"), "Properties", "Queues"), []any{map[string]any{"Ref": "WorkerOrdersQueue"}})

	check("WorkerQueueUrl output", get(tpl, "Outputs", "WorkerQueueUrl", "Value"), map[string]any{"Ref": "WorkerOrdersQueue"})
	check("WorkerQueueUrl condition", get(tpl, "Outputs", "WorkerQueueUrl", "Condition"), "RunService")
}
