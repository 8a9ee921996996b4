package tests

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"flashsale/internal/queue/sqs"
)

// workerBinary is where the image (`make image`) puts flashsale; the task
// definition runs it as the entrypoint and the health check.
const workerBinary = "/usr/local/bin/flashsale"

// maxPaymentDelay is the longest payment PaymentDelay's pattern accepts
// (below 20 s; TestPaymentDelayPattern).
const maxPaymentDelay = 20 * time.Second

// fargateMaxStopTimeout is the longest stop timeout Fargate takes, seconds.
const fargateMaxStopTimeout = 120

// wantWorkerTaskGrants are the task role's permissions, exactly: consume
// the worker queue, and claim and finish orders in the table (DescribeTable:
// the worker checks the table at start). The queue is encrypted with SQS's
// own key (SqsManagedSseEnabled), so no KMS grant.
var wantWorkerTaskGrants = map[string]string{
	"sqs:ReceiveMessage":          "WorkerOrdersQueue.Arn",
	"sqs:DeleteMessage":           "WorkerOrdersQueue.Arn",
	"sqs:ChangeMessageVisibility": "WorkerOrdersQueue.Arn",
	"sqs:GetQueueAttributes":      "WorkerOrdersQueue.Arn",
	"dynamodb:DescribeTable":      "OrdersTable.Arn",
	"dynamodb:UpdateItem":         "OrdersTable.Arn",
}

// wantWorkerExecutionGrants are the execution role's: pull the image from
// the account's ECR repositories, write the worker's log group.
var wantWorkerExecutionGrants = map[string]string{
	"ecr:GetAuthorizationToken":       "*",
	"ecr:BatchCheckLayerAvailability": "arn:${AWS::Partition}:ecr:*:${AWS::AccountId}:repository/*",
	"ecr:GetDownloadUrlForLayer":      "arn:${AWS::Partition}:ecr:*:${AWS::AccountId}:repository/*",
	"ecr:BatchGetImage":               "arn:${AWS::Partition}:ecr:*:${AWS::AccountId}:repository/*",
	"logs:CreateLogStream":            "WorkerLogGroup.Arn",
	"logs:PutLogEvents":               "WorkerLogGroup.Arn",
}

// resourceName names a statement's resource: R for !Ref R, R.A for
// !GetAtt R.A, the text of a !Sub, or the literal.
func resourceName(v any) string {
	if r := ref(v); r != "" {
		return r
	}
	if r, a := getAtt(v); r != "" {
		return r + "." + a
	}
	if s, ok := get(v, "Fn::Sub").(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// roleGrants lists a role's Allow statements as action -> resource, with
// every way it breaks "exactly these": a statement that is not an Allow of
// named actions on one resource, an action granted twice, managed
// policies, policies attached from outside the role.
func roleGrants(tp template, role string) (map[string]string, []string) {
	var errs []string
	var statements []any
	for _, pol := range anySlice(get(tp.resources()[role], "Properties", "Policies")) {
		statements = append(statements, anySlice(get(pol, "PolicyDocument", "Statement"))...)
	}
	for name, r := range tp.resources() {
		if t := tp.typeOf(name); (t == "AWS::IAM::Policy" || t == "AWS::IAM::ManagedPolicy") &&
			slices.ContainsFunc(anySlice(get(r, "Properties", "Roles")), func(r any) bool { return ref(r) == role }) {
			errs = append(errs, fmt.Sprintf("%s: %s %s is attached to it; keep its grants in the role", role, t, name))
		}
	}
	if m := get(tp.resources()[role], "Properties", "ManagedPolicyArns"); m != nil {
		errs = append(errs, fmt.Sprintf("%s: managed policies %v", role, m))
	}
	got := map[string]string{}
	for _, st := range statements {
		if get(st, "Effect") != "Allow" || get(st, "NotAction") != nil || get(st, "NotResource") != nil || get(st, "Condition") != nil {
			errs = append(errs, fmt.Sprintf("%s: statement %v: want an Allow of named actions on a resource, without conditions", role, st))
			continue
		}
		actions := anySlice(get(st, "Action"))
		if a, ok := get(st, "Action").(string); ok {
			actions = []any{a}
		}
		resource := resourceName(get(st, "Resource"))
		for _, a := range actions {
			if prev, dup := got[str(a)]; dup {
				errs = append(errs, fmt.Sprintf("%s grants %s twice (on %s and %s)", role, a, prev, resource))
			}
			got[str(a)] = resource
		}
	}
	return got, errs
}

// checkGrants compares a role's grants with want, exactly.
func checkGrants(tp template, role string, want map[string]string) []string {
	got, errs := roleGrants(tp, role)
	for action, res := range got {
		switch w, ok := want[action]; {
		case !ok:
			errs = append(errs, fmt.Sprintf("%s grants %s, which it does not need", role, action))
		case res != w:
			errs = append(errs, fmt.Sprintf("%s grants %s on %s, want on %s only", role, action, res, w))
		}
	}
	for action, res := range want {
		if _, ok := got[action]; !ok {
			errs = append(errs, fmt.Sprintf("%s lacks %s on %s", role, action, res))
		}
	}
	sort.Strings(errs)
	return errs
}

// flagArgs reads a command line of --flag value pairs.
func flagArgs(cmd []any) (map[string]any, error) {
	out := map[string]any{}
	for i := 0; i < len(cmd); i += 2 {
		f := str(cmd[i])
		if !strings.HasPrefix(f, "--") || i+1 >= len(cmd) {
			return nil, fmt.Errorf("command %v: want --flag value pairs, got %v at %d", cmd, cmd[i], i)
		}
		if _, dup := out[f]; dup {
			return nil, fmt.Errorf("command %v: %s twice", cmd, f)
		}
		out[f] = cmd[i+1]
	}
	return out, nil
}

// checkWorkerService returns every way in which the template's worker
// service breaks what issue 12 asks for.
func checkWorkerService(tp template) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	res := tp.resources()
	want := map[string]string{
		"WorkerCluster": "AWS::ECS::Cluster", "WorkerLogGroup": "AWS::Logs::LogGroup", "WorkerSecurityGroup": "AWS::EC2::SecurityGroup",
		"WorkerTaskDefinition": "AWS::ECS::TaskDefinition", "WorkerService": "AWS::ECS::Service",
		"WorkerScalableTarget": "AWS::ApplicationAutoScaling::ScalableTarget", "WorkerScalingPolicy": "AWS::ApplicationAutoScaling::ScalingPolicy",
		"WorkerTaskRole": "AWS::IAM::Role", "WorkerExecutionRole": "AWS::IAM::Role",
	}
	for name, typ := range want {
		if tp.typeOf(name) != typ {
			fail("%s is not an %s", name, typ)
		} else if c := get(res[name], "Condition"); c != "RunService" {
			fail("%s: Condition %v, want RunService", name, c)
		}
	}
	for name := range res {
		t := tp.typeOf(name)
		if (strings.HasPrefix(t, "AWS::ECS::") || strings.HasPrefix(t, "AWS::ApplicationAutoScaling::")) && get(res[name], "Condition") != "RunService" {
			fail("%s: Condition %v, want RunService", name, get(res[name], "Condition"))
		}
	}

	// The cluster publishes RunningTaskCount.
	if !slices.ContainsFunc(anySlice(get(res["WorkerCluster"], "Properties", "ClusterSettings")), func(s any) bool {
		return get(s, "Name") == "containerInsights" && (get(s, "Value") == "enabled" || get(s, "Value") == "enhanced")
	}) {
		fail("WorkerCluster: Container Insights is not on (ClusterSettings containerInsights)")
	}

	// The task: Fargate, arm64 Linux, the parameters' size, the roles.
	td := get(res["WorkerTaskDefinition"], "Properties")
	if fmt.Sprint(get(td, "RequiresCompatibilities")) != "[FARGATE]" || get(td, "NetworkMode") != "awsvpc" {
		fail("WorkerTaskDefinition: RequiresCompatibilities %v, NetworkMode %v; want [FARGATE], awsvpc", get(td, "RequiresCompatibilities"), get(td, "NetworkMode"))
	}
	if rp := get(td, "RuntimePlatform"); get(rp, "CpuArchitecture") != "ARM64" || get(rp, "OperatingSystemFamily") != "LINUX" {
		fail("WorkerTaskDefinition: RuntimePlatform %v, want ARM64 LINUX", rp)
	}
	if ref(get(td, "Cpu")) != "WorkerCpu" || ref(get(td, "Memory")) != "WorkerMemory" {
		fail("WorkerTaskDefinition: Cpu %v, Memory %v; want the WorkerCpu and WorkerMemory parameters", get(td, "Cpu"), get(td, "Memory"))
	}
	if r, a := getAtt(get(td, "TaskRoleArn")); r != "WorkerTaskRole" || a != "Arn" {
		fail("WorkerTaskDefinition: TaskRoleArn %v, want WorkerTaskRole", get(td, "TaskRoleArn"))
	}
	if r, a := getAtt(get(td, "ExecutionRoleArn")); r != "WorkerExecutionRole" || a != "Arn" {
		fail("WorkerTaskDefinition: ExecutionRoleArn %v, want WorkerExecutionRole", get(td, "ExecutionRoleArn"))
	}
	containers := anySlice(get(td, "ContainerDefinitions"))
	if len(containers) != 1 {
		fail("WorkerTaskDefinition: %d containers, want one", len(containers))
		return errs
	}
	c := containers[0]
	if ref(get(c, "Image")) != "WorkerImage" || get(c, "Essential") != true {
		fail("worker container: Image %v, Essential %v; want the WorkerImage parameter, essential", get(c, "Image"), get(c, "Essential"))
	}
	if ep := fmt.Sprint(get(c, "EntryPoint")); ep != "["+workerBinary+" worker]" {
		fail("worker container: EntryPoint %s, want [%s worker]", ep, workerBinary)
	}
	args, err := flagArgs(anySlice(get(c, "Command")))
	if err != nil {
		fail("worker container: %v", err)
	}
	for flag, param := range map[string]string{"--queue-url": "WorkerOrdersQueue", "--orders-table": "OrdersTable",
		"--workers": "WorkersPerTask", "--payment-delay": "PaymentDelay", "--decline-rate": "PaymentDeclineRate"} {
		if ref(args[flag]) != param {
			fail("worker container: %s %v, want !Ref %s", flag, args[flag], param)
		}
	}
	if args["--log-format"] != "json" || args["--name"] == nil {
		fail("worker container: --log-format %v, --name %v; want json and a name", args["--log-format"], args["--name"])
	}
	host, port, err := net.SplitHostPort(str(args["--addr"]))
	if err != nil || host != "0.0.0.0" {
		fail("worker container: --addr %v, want 0.0.0.0:<port> (every interface of the task)", args["--addr"])
	}
	if get(c, "ReadonlyRootFilesystem") != true {
		fail("worker container: ReadonlyRootFilesystem %v, want true", get(c, "ReadonlyRootFilesystem"))
	}
	if !slices.ContainsFunc(anySlice(get(c, "Environment")), func(e any) bool {
		return get(e, "Name") == "AWS_REGION" && ref(get(e, "Value")) == "AWS::Region"
	}) {
		fail("worker container: no AWS_REGION from AWS::Region")
	}

	// The health check: the image's own binary probing /health on the
	// worker's port (no shell, no curl), within the check's timeout.
	hc := get(c, "HealthCheck")
	cmd := anySlice(get(hc, "Command"))
	if len(cmd) < 3 || cmd[0] != "CMD" || cmd[1] != workerBinary || cmd[2] != "health" {
		fail("worker container: HealthCheck.Command %v, want [CMD %s health ...] (exec form: the image has no shell)", cmd, workerBinary)
	} else if probe, err := flagArgs(cmd[3:]); err != nil {
		fail("worker container: health check: %v", err)
	} else {
		u, err := url.Parse(str(probe["--url"]))
		if err != nil || u.Hostname() != "127.0.0.1" || u.Port() != port || u.Path != "/health" {
			fail("worker container: health check --url %v, want http://127.0.0.1:%s/health (the worker's --addr)", probe["--url"], port)
		}
		d, err := time.ParseDuration(str(probe["--timeout"]))
		timeout, _ := number(get(hc, "Timeout"))
		if err != nil || d <= 0 || d >= time.Duration(timeout)*time.Second {
			fail("worker container: health check --timeout %v, want a duration below HealthCheck.Timeout %vs", probe["--timeout"], timeout)
		}
	}
	for _, k := range []string{"Interval", "Retries", "StartPeriod"} {
		if n, ok := number(get(hc, k)); !ok || n <= 0 {
			fail("worker container: HealthCheck.%s %v, want a positive number", k, get(hc, k))
		}
	}

	// The stop timeout: the payments in flight finish and are deleted
	// before SIGKILL, for the longest payment the template allows.
	stop, _ := number(get(c, "StopTimeout"))
	if need := maxPaymentDelay + sqs.SettleBudgetFor(sqs.DefaultCallTimeout); time.Duration(stop)*time.Second <= need || stop > fargateMaxStopTimeout {
		fail("worker container: StopTimeout %vs, want above %v (the longest payment, %v, and its delete, %v) and at most Fargate's %d s",
			stop, need, maxPaymentDelay, sqs.SettleBudgetFor(sqs.DefaultCallTimeout), fargateMaxStopTimeout)
	}

	// Logs: awslogs to the worker's log group, with the stack's retention.
	lc := get(c, "LogConfiguration")
	if get(lc, "LogDriver") != "awslogs" || ref(get(lc, "Options", "awslogs-group")) != "WorkerLogGroup" ||
		ref(get(lc, "Options", "awslogs-region")) != "AWS::Region" || get(lc, "Options", "awslogs-stream-prefix") == nil {
		fail("worker container: LogConfiguration %v, want awslogs to WorkerLogGroup in AWS::Region with a stream prefix", lc)
	}
	if ref(get(res["WorkerLogGroup"], "Properties", "RetentionInDays")) != "LogRetentionInDays" {
		fail("WorkerLogGroup: RetentionInDays %v, want the LogRetentionInDays parameter", get(res["WorkerLogGroup"], "Properties", "RetentionInDays"))
	}

	// The service: Fargate, in the given subnets, behind the egress-only
	// security group; its desired count is the scaling's.
	svc := get(res["WorkerService"], "Properties")
	if ref(get(svc, "Cluster")) != "WorkerCluster" || ref(get(svc, "TaskDefinition")) != "WorkerTaskDefinition" || get(svc, "LaunchType") != "FARGATE" {
		fail("WorkerService: Cluster %v, TaskDefinition %v, LaunchType %v; want WorkerCluster, WorkerTaskDefinition, FARGATE", get(svc, "Cluster"), get(svc, "TaskDefinition"), get(svc, "LaunchType"))
	}
	if get(svc, "DesiredCount") != nil {
		fail("WorkerService: DesiredCount %v: every deploy would reset what the scaling set", get(svc, "DesiredCount"))
	}
	vpc := get(svc, "NetworkConfiguration", "AwsvpcConfiguration")
	if ref(get(vpc, "Subnets")) != "Subnets" || fmt.Sprint(get(vpc, "SecurityGroups")) != "[map[Ref:WorkerSecurityGroup]]" || ref(get(vpc, "AssignPublicIp")) != "AssignPublicIp" {
		fail("WorkerService: AwsvpcConfiguration %v, want Subnets, [WorkerSecurityGroup] and AssignPublicIp from the parameters", vpc)
	}
	sg := get(res["WorkerSecurityGroup"], "Properties")
	if ref(get(sg, "VpcId")) != "VpcId" {
		fail("WorkerSecurityGroup: VpcId %v, want the VpcId parameter", get(sg, "VpcId"))
	}
	if get(sg, "SecurityGroupIngress") != nil {
		fail("WorkerSecurityGroup: SecurityGroupIngress %v: egress only", get(sg, "SecurityGroupIngress"))
	}
	for name, r := range res {
		if tp.typeOf(name) == "AWS::EC2::SecurityGroupIngress" {
			fail("%s: egress only (%v)", name, get(r, "Properties"))
		}
	}
	egress := anySlice(get(sg, "SecurityGroupEgress"))
	if len(egress) != 1 || fmt.Sprint(get(egress[0], "IpProtocol")) != "tcp" || fmt.Sprint(get(egress[0], "FromPort")) != "443" || fmt.Sprint(get(egress[0], "ToPort")) != "443" {
		fail("WorkerSecurityGroup: SecurityGroupEgress %v, want HTTPS (tcp 443) only (without it, every port is open)", egress)
	}

	// Scaling: the service's desired count between MinTasks and MaxTasks,
	// tracking visible messages / running tasks at BacklogPerTaskTarget.
	st := get(res["WorkerScalableTarget"], "Properties")
	if get(st, "ServiceNamespace") != "ecs" || get(st, "ScalableDimension") != "ecs:service:DesiredCount" ||
		get(st, "ResourceId", "Fn::Sub") != "service/${WorkerCluster}/${WorkerService.Name}" {
		fail("WorkerScalableTarget: %v, want ecs:service:DesiredCount of service/${WorkerCluster}/${WorkerService.Name}", st)
	}
	if ref(get(st, "MinCapacity")) != "MinTasks" || ref(get(st, "MaxCapacity")) != "MaxTasks" {
		fail("WorkerScalableTarget: MinCapacity %v, MaxCapacity %v; want the MinTasks and MaxTasks parameters", get(st, "MinCapacity"), get(st, "MaxCapacity"))
	}
	if n, _ := number(get(tp, "Parameters", "MinTasks", "MinValue")); n < 1 {
		fail("MinTasks: MinValue %v, want at least 1 (the metric divides by the running tasks)", get(tp, "Parameters", "MinTasks", "MinValue"))
	}
	pol := get(res["WorkerScalingPolicy"], "Properties")
	tt := get(pol, "TargetTrackingScalingPolicyConfiguration")
	if get(pol, "PolicyType") != "TargetTrackingScaling" || ref(get(pol, "ScalingTargetId")) != "WorkerScalableTarget" || ref(get(tt, "TargetValue")) != "BacklogPerTaskTarget" {
		fail("WorkerScalingPolicy: %v, want TargetTrackingScaling of WorkerScalableTarget at the BacklogPerTaskTarget parameter", pol)
	}
	metrics := map[string]any{}
	var returned []any
	for _, m := range anySlice(get(tt, "CustomizedMetricSpecification", "Metrics")) {
		metrics[str(get(m, "Id"))] = m
		if get(m, "ReturnData") == true {
			returned = append(returned, m)
		}
	}
	if len(returned) != 1 {
		fail("WorkerScalingPolicy: %d metrics return data, want one (the backlog per task)", len(returned))
	} else {
		parts := regexp.MustCompile(`^\s*(\w+)\s*/\s*(\w+)\s*$`).FindStringSubmatch(str(get(returned[0], "Expression")))
		if parts == nil {
			fail("WorkerScalingPolicy: expression %q, want visible / tasks", get(returned[0], "Expression"))
		} else {
			dims := func(m any) map[string]string {
				out := map[string]string{}
				for _, d := range anySlice(get(m, "MetricStat", "Metric", "Dimensions")) {
					out[str(get(d, "Name"))] = resourceName(get(d, "Value"))
				}
				return out
			}
			num, den := metrics[parts[1]], metrics[parts[2]]
			if mt := get(num, "MetricStat", "Metric"); get(mt, "Namespace") != "AWS/SQS" || get(mt, "MetricName") != "ApproximateNumberOfMessagesVisible" ||
				fmt.Sprint(dims(num)) != "map[QueueName:WorkerOrdersQueue.QueueName]" || get(num, "ReturnData") != false {
				fail("WorkerScalingPolicy: %s is %v, want AWS/SQS ApproximateNumberOfMessagesVisible of WorkerOrdersQueue", parts[1], num)
			}
			if mt := get(den, "MetricStat", "Metric"); get(mt, "Namespace") != "ECS/ContainerInsights" || get(mt, "MetricName") != "RunningTaskCount" ||
				fmt.Sprint(dims(den)) != "map[ClusterName:WorkerCluster ServiceName:WorkerService.Name]" || get(den, "ReturnData") != false {
				fail("WorkerScalingPolicy: %s is %v, want ECS/ContainerInsights RunningTaskCount of WorkerCluster's WorkerService", parts[2], den)
			}
		}
	}

	// Roles: exactly what the task and ECS need, assumed by ECS tasks.
	for _, role := range []string{"WorkerTaskRole", "WorkerExecutionRole"} {
		trust := anySlice(get(res[role], "Properties", "AssumeRolePolicyDocument", "Statement"))
		if len(trust) != 1 || get(trust[0], "Principal", "Service") != "ecs-tasks.amazonaws.com" || get(trust[0], "Action") != "sts:AssumeRole" {
			fail("%s: trust %v, want ecs-tasks.amazonaws.com only", role, trust)
		}
	}
	errs = append(errs, checkGrants(tp, "WorkerTaskRole", wantWorkerTaskGrants)...)
	errs = append(errs, checkGrants(tp, "WorkerExecutionRole", wantWorkerExecutionGrants)...)
	q := get(res["WorkerOrdersQueue"], "Properties")
	if get(q, "KmsMasterKeyId") != nil || get(q, "SqsManagedSseEnabled") != true {
		fail("WorkerOrdersQueue: KmsMasterKeyId %v, SqsManagedSseEnabled %v: a key of the template needs kms:Decrypt in WorkerTaskRole", get(q, "KmsMasterKeyId"), get(q, "SqsManagedSseEnabled"))
	}
	return errs
}

func TestTemplateWorkerService(t *testing.T) {
	tp := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
	for _, e := range checkWorkerService(tp) {
		t.Error(e)
	}
}

// TestTemplateWorkerServiceCatchesMistakes breaks the service in the ways
// the check must notice.
func TestTemplateWorkerServiceCatchesMistakes(t *testing.T) {
	container := func(tp template) map[string]any {
		return anySlice(get(tp.resources()["WorkerTaskDefinition"], "Properties", "ContainerDefinitions"))[0].(map[string]any)
	}
	props := func(tp template, name string) map[string]any {
		return get(tp.resources()[name], "Properties").(map[string]any)
	}
	taskStatement := func(tp template, policy string) map[string]any {
		for _, pol := range anySlice(get(tp.resources()["WorkerTaskRole"], "Properties", "Policies")) {
			if get(pol, "PolicyName") == policy {
				return anySlice(get(pol, "PolicyDocument", "Statement"))[0].(map[string]any)
			}
		}
		panic("WorkerTaskRole has no policy " + policy)
	}
	setFlag := func(tp template, flag string, v any) {
		cmd := anySlice(container(tp)["Command"])
		for i := 0; i+1 < len(cmd); i += 2 {
			if cmd[i] == flag {
				cmd[i+1] = v
			}
		}
	}
	tests := []struct {
		name   string
		mutate func(tp template)
		want   string
	}{
		{"service always", func(tp template) { delete(tp.resources()["WorkerService"].(map[string]any), "Condition") }, "WorkerService: Condition <nil>, want RunService"},
		{"no Container Insights", func(tp template) { delete(props(tp, "WorkerCluster"), "ClusterSettings") }, "Container Insights is not on"},
		{"x86 task", func(tp template) {
			props(tp, "WorkerTaskDefinition")["RuntimePlatform"] = map[string]any{"CpuArchitecture": "X86_64", "OperatingSystemFamily": "LINUX"}
		}, "RuntimePlatform map[CpuArchitecture:X86_64"},
		{"fixed CPU", func(tp template) { props(tp, "WorkerTaskDefinition")["Cpu"] = "256" }, "want the WorkerCpu and WorkerMemory parameters"},
		{"fixed worker count", func(tp template) { setFlag(tp, "--workers", "20") }, "--workers 20, want !Ref WorkersPerTask"},
		{"another payment delay", func(tp template) { setFlag(tp, "--payment-delay", "3s") }, "--payment-delay 3s, want !Ref PaymentDelay"},
		{"no orders table", func(tp template) {
			c := container(tp)
			c["Command"] = slices.DeleteFunc(anySlice(c["Command"]), func(a any) bool { return a == "--orders-table" || ref(a) == "OrdersTable" })
		}, "--orders-table <nil>, want !Ref OrdersTable"},
		{"loopback only", func(tp template) { setFlag(tp, "--addr", "127.0.0.1:8081") }, "--addr 127.0.0.1:8081, want 0.0.0.0:<port>"},
		{"text logs", func(tp template) { setFlag(tp, "--log-format", "text") }, "--log-format text"},
		{"health check through a shell", func(tp template) {
			get(container(tp), "HealthCheck").(map[string]any)["Command"] = []any{"CMD-SHELL", "curl -f http://127.0.0.1:8081/health || exit 1"}
		}, "want [CMD " + workerBinary + " health ...]"},
		{"health check on another port", func(tp template) {
			cmd := anySlice(get(container(tp), "HealthCheck", "Command"))
			cmd[4] = "http://127.0.0.1:9999/health"
		}, "health check --url http://127.0.0.1:9999/health, want http://127.0.0.1:8081/health"},
		{"probe outlives the check", func(tp template) { get(container(tp), "HealthCheck").(map[string]any)["Timeout"] = 2 }, "want a duration below HealthCheck.Timeout 2s"},
		{"ECS's default stop timeout", func(tp template) { delete(container(tp), "StopTimeout") }, "StopTimeout 0s, want above 1m20.6s"},
		{"stop timeout of one payment", func(tp template) { container(tp)["StopTimeout"] = 30 }, "StopTimeout 30s"},
		{"stop timeout past Fargate's", func(tp template) { container(tp)["StopTimeout"] = 600 }, "at most Fargate's 120 s"},
		{"logs kept forever", func(tp template) { delete(props(tp, "WorkerLogGroup"), "RetentionInDays") }, "WorkerLogGroup: RetentionInDays <nil>"},
		{"logs elsewhere", func(tp template) { delete(get(container(tp), "LogConfiguration").(map[string]any), "LogDriver") }, "want awslogs to WorkerLogGroup"},
		{"writable root", func(tp template) { delete(container(tp), "ReadonlyRootFilesystem") }, "ReadonlyRootFilesystem <nil>"},
		{"fixed desired count", func(tp template) { props(tp, "WorkerService")["DesiredCount"] = 1 }, "WorkerService: DesiredCount 1"},
		{"open security group", func(tp template) {
			props(tp, "WorkerSecurityGroup")["SecurityGroupIngress"] = []any{map[string]any{"IpProtocol": "tcp", "FromPort": 8081, "ToPort": 8081, "CidrIp": "0.0.0.0/0"}}
		}, "SecurityGroupIngress"},
		{"every port out", func(tp template) { delete(props(tp, "WorkerSecurityGroup"), "SecurityGroupEgress") }, "want HTTPS (tcp 443) only"},
		{"fixed maximum", func(tp template) { props(tp, "WorkerScalableTarget")["MaxCapacity"] = 10 }, "want the MinTasks and MaxTasks parameters"},
		{"scaling on the whole backlog", func(tp template) {
			for _, m := range anySlice(get(props(tp, "WorkerScalingPolicy"), "TargetTrackingScalingPolicyConfiguration", "CustomizedMetricSpecification", "Metrics")) {
				if get(m, "Expression") != nil {
					m.(map[string]any)["Expression"] = "visible"
				}
			}
		}, "want visible / tasks"},
		{"divided by the desired count", func(tp template) {
			for _, m := range anySlice(get(props(tp, "WorkerScalingPolicy"), "TargetTrackingScalingPolicyConfiguration", "CustomizedMetricSpecification", "Metrics")) {
				if get(m, "Id") == "tasks" {
					get(m, "MetricStat", "Metric").(map[string]any)["MetricName"] = "DesiredTaskCount"
				}
			}
		}, "want ECS/ContainerInsights RunningTaskCount"},
		{"fixed target", func(tp template) {
			get(props(tp, "WorkerScalingPolicy"), "TargetTrackingScalingPolicyConfiguration").(map[string]any)["TargetValue"] = 380
		}, "at the BacklogPerTaskTarget parameter"},
		{"task may send", func(tp template) {
			st := taskStatement(tp, "worker-queue")
			st["Action"] = append(anySlice(st["Action"]), "sqs:SendMessage")
		}, "WorkerTaskRole grants sqs:SendMessage, which it does not need"},
		{"task may purge", func(tp template) { taskStatement(tp, "worker-queue")["Action"] = "sqs:*" }, "WorkerTaskRole grants sqs:*"},
		{"task on every queue", func(tp template) { taskStatement(tp, "worker-queue")["Resource"] = "*" }, "grants sqs:ReceiveMessage on *, want on WorkerOrdersQueue.Arn only"},
		{"task cannot check the table", func(tp template) {
			taskStatement(tp, "orders-table")["Action"] = []any{"dynamodb:UpdateItem"}
		}, "WorkerTaskRole lacks dynamodb:DescribeTable on OrdersTable.Arn"},
		{"task reads orders", func(tp template) {
			st := taskStatement(tp, "orders-table")
			st["Action"] = append(anySlice(st["Action"]), "dynamodb:GetItem")
		}, "WorkerTaskRole grants dynamodb:GetItem, which it does not need"},
		{"task with a managed policy", func(tp template) {
			props(tp, "WorkerTaskRole")["ManagedPolicyArns"] = []any{"arn:aws:iam::aws:policy/AmazonSQSFullAccess"}
		}, "WorkerTaskRole: managed policies"},
		{"policy attached from outside", func(tp template) {
			tp.resources()["Extra"] = map[string]any{"Type": "AWS::IAM::Policy", "Properties": map[string]any{"Roles": []any{map[string]any{"Ref": "WorkerTaskRole"}}}}
		}, "AWS::IAM::Policy Extra is attached to it"},
		{"execution role writes every log group", func(tp template) {
			for _, pol := range anySlice(get(props(tp, "WorkerExecutionRole"), "Policies")) {
				if get(pol, "PolicyName") == "own-logs" {
					anySlice(get(pol, "PolicyDocument", "Statement"))[0].(map[string]any)["Resource"] = "*"
				}
			}
		}, "WorkerExecutionRole grants logs:CreateLogStream on *, want on WorkerLogGroup.Arn only"},
		{"task role assumed by Lambda", func(tp template) {
			anySlice(get(props(tp, "WorkerTaskRole"), "AssumeRolePolicyDocument", "Statement"))[0].(map[string]any)["Principal"] = map[string]any{"Service": "lambda.amazonaws.com"}
		}, "WorkerTaskRole: trust"},
		{"queue under a key of the stack", func(tp template) {
			props(tp, "WorkerOrdersQueue")["KmsMasterKeyId"] = map[string]any{"Ref": "OrdersKey"}
		}, "needs kms:Decrypt in WorkerTaskRole"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
			tt.mutate(tp)
			if errs := strings.Join(checkWorkerService(tp), "\n"); !strings.Contains(errs, tt.want) {
				t.Fatalf("the check missed it: want an error containing %q, got:\n%s", tt.want, errs)
			}
		})
	}
}

// studyBurst is the flash sale the scaling defaults are planned for: the
// study's 60 orders/s for 60 s, each paid within a minute of entering the
// queue.
var studyBurst = struct {
	rate    string
	burst   string
	latency string
}{"60", "60s", "60s"}

// TestTemplateScalingMatchesPlan runs `flashsale plan` with the template's
// WorkersPerTask and PaymentDelay for the study's burst: BacklogPerTaskTarget
// and MaxTasks default to the backlog per task it aims at and the tasks it
// says the burst needs.
func TestTemplateScalingMatchesPlan(t *testing.T) {
	tp := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
	bin, err := flashsaleBin()
	if err != nil {
		t.Fatal(err)
	}
	def := func(p string) string { return fmt.Sprint(get(tp, "Parameters", p, "Default")) }
	args := []string{"plan", "--rate", studyBurst.rate, "--burst", studyBurst.burst, "--latency", studyBurst.latency,
		"--payment-delay", def("PaymentDelay"), "--workers-per-task", def("WorkersPerTask"), "--runs", "1", "--json"}
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("flashsale %s: %v", strings.Join(args, " "), err)
	}
	var plan struct {
		Service struct {
			Target int `json:"target_backlog_per_task"`
			Tasks  int `json:"tasks"`
		} `json:"service"`
	}
	if err := json.Unmarshal(out, &plan); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, out)
	}
	t.Logf("flashsale %s: target %d visible messages per task, %d tasks", strings.Join(args[:len(args)-1], " "), plan.Service.Target, plan.Service.Tasks)
	for param, want := range map[string]int{"BacklogPerTaskTarget": plan.Service.Target, "MaxTasks": plan.Service.Tasks} {
		if got := def(param); got != strconv.Itoa(want) {
			t.Errorf("%s defaults to %s; flashsale plan says %d for the study's burst", param, got, want)
		}
	}
	if def("WorkersPerTask") != "20" || def("PaymentDelay") != "3s" || plan.Service.Target != 380 || plan.Service.Tasks != 10 {
		t.Errorf("WorkersPerTask %s and PaymentDelay %s plan a target of %d and %d tasks: the docs give 20, 3s, 380 and 10",
			def("WorkersPerTask"), def("PaymentDelay"), plan.Service.Target, plan.Service.Tasks)
	}
	if n, _ := number(def("MinTasks")); n > float64(plan.Service.Tasks) {
		t.Errorf("MinTasks %v above MaxTasks' default %d", n, plan.Service.Tasks)
	}
}

// TestWorkerCommandFlags: every flag the task definition passes exists, in
// `flashsale worker` and in `flashsale health`.
func TestWorkerCommandFlags(t *testing.T) {
	tp := template(loadTemplate(t, filepath.Join(repoRoot, "template.yaml")))
	bin, err := flashsaleBin()
	if err != nil {
		t.Fatal(err)
	}
	c := anySlice(get(tp.resources()["WorkerTaskDefinition"], "Properties", "ContainerDefinitions"))[0]
	hc := anySlice(get(c, "HealthCheck", "Command"))
	for sub, cmd := range map[string][]any{"worker": anySlice(get(c, "Command")), "health": hc[3:]} {
		help, err := exec.Command(bin, sub, "--help").Output()
		if err != nil {
			t.Fatalf("flashsale %s --help: %v", sub, err)
		}
		args, err := flagArgs(cmd)
		if err != nil {
			t.Fatal(err)
		}
		for flag := range args {
			if !regexp.MustCompile(`(?m)^\s+-` + regexp.QuoteMeta(strings.TrimPrefix(flag, "--")) + `\b`).Match(help) {
				t.Errorf("the task definition passes %s to flashsale %s, which has no such flag", flag, sub)
			}
		}
	}
}
