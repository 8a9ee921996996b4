package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// forbidden are the packages (with their sub-packages) no Lambda function may link: they belong to
// the CLI, the lab, plotting, load generation or metrics, and each would
// grow the bootstrap (a cold-start cost).
var forbidden = []struct{ prefix, what string }{
	{"github.com/prometheus/", "Prometheus"},
	{"flashsale/internal/metrics", "Prometheus metrics"},
	{"gonum.org/v1/plot", "plotting"},
	{"codeberg.org/go-fonts/", "plotting (fonts)"},
	{"codeberg.org/go-latex/", "plotting (LaTeX)"},
	{"codeberg.org/go-pdf/", "plotting (PDF)"},
	{"git.sr.ht/~sbinet/gg", "plotting"},
	{"github.com/ajstarks/svgo", "plotting"},
	{"github.com/tsenart/vegeta", "vegeta"},
	{"flashsale/cmd/", "the CLI"},
	{"flashsale/internal/lab", "the lab"},
	{"flashsale/internal/loadgen", "the load generator"},
	{"flashsale/internal/capacity", "the capacity model"},
	{"flashsale/internal/depth", "the queue-depth timeline"},
	{"flashsale/internal/server", "the local server"},
	{"net/rpc", "the legacy RPC runtime (build with -tags lambda.norpc)"},
	{"github.com/google/go-containerregistry", "the container image builder"},
	{"flashsale/internal/ociimage", "the container image builder"},
	// Tests only: the EMF records are checked against our JSON schema of
	// the specification in tests, never in a function.
	{"github.com/santhosh-tekuri/jsonschema", "the JSON-schema validator (tests only)"},
	{"flashsale/internal/testutil", "test helpers"},
	// The SDK's default configuration loader and the credential providers
	// it brings (shared files, SSO, STS, IMDS): a function never runs them,
	// and reads its region and role credentials from the Lambda
	// environment instead (serverless.AWSConfig).
	{"github.com/aws/aws-sdk-go-v2/config", "the SDK's configuration loader"},
	{"github.com/aws/aws-sdk-go-v2/feature/ec2/imds", "EC2 instance metadata"},
	{"github.com/aws/aws-sdk-go-v2/service/sso", "SSO credentials"},
	{"github.com/aws/aws-sdk-go-v2/service/ssooidc", "SSO credentials"},
	{"github.com/aws/aws-sdk-go-v2/service/sts", "STS credentials"},
}

// forbiddenDeps returns the forbidden packages among deps, with the reason.
func forbiddenDeps(deps []string) []string {
	var out []string
	for _, d := range deps {
		for _, f := range forbidden {
			p := strings.TrimSuffix(f.prefix, "/")
			if d == p || strings.HasPrefix(d, p+"/") {
				out = append(out, d+" ("+f.what+")")
			}
		}
	}
	return out
}

func TestForbiddenDeps(t *testing.T) {
	tests := []struct {
		deps []string
		want int
	}{
		{[]string{"fmt", "flashsale/internal/order", "github.com/aws/aws-lambda-go/lambda"}, 0},
		{[]string{"github.com/prometheus/client_golang/prometheus"}, 1},
		{[]string{"flashsale/cmd/flashsale", "gonum.org/v1/plot/vg", "github.com/tsenart/vegeta/v12/lib"}, 3},
		{[]string{"flashsale/internal/metrics", "net/rpc", "flashsale/internal/orderbook"}, 2},
		{[]string{"flashsale/internal/serverless", "flashsale/internal/server/x", "net/rpc/jsonrpc"}, 2},
		{[]string{"github.com/aws/aws-sdk-go-v2/service/dynamodb", "github.com/aws/aws-sdk-go-v2/config", "github.com/aws/aws-sdk-go-v2/service/ssooidc"}, 2},
	}
	for _, tt := range tests {
		if got := forbiddenDeps(tt.deps); len(got) != tt.want {
			t.Errorf("forbiddenDeps(%v) = %v, want %d", tt.deps, got, tt.want)
		}
	}
}

// TestFunctionDependencies checks, with `go list -deps`, what each function
// in functions/ links.
func TestFunctionDependencies(t *testing.T) {
	dirs, err := os.ReadDir(filepath.Join(repoRoot, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	extra := map[string]struct{ must, mustNot []string }{
		"api": {must: []string{"flashsale/internal/httpapi", "flashsale/internal/queue/sns",
			"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter", "github.com/aws/aws-sdk-go-v2/service/sns", "flashsale/internal/emf",
			"flashsale/internal/orderstore/dynamostore", "github.com/aws/aws-sdk-go-v2/service/dynamodb"}},
		// The processor links the DynamoDB client of the order store, and
		// nothing else of the SDK's services.
		"processor": {must: []string{"flashsale/internal/order", "flashsale/internal/payment", "github.com/aws/aws-lambda-go/events",
			"github.com/aws/aws-lambda-go/lambdacontext", "log/slog", "flashsale/internal/payonce",
			"flashsale/internal/orderstore/dynamostore", "github.com/aws/aws-sdk-go-v2/service/dynamodb",
			"flashsale/internal/emf"},
			mustNot: []string{"github.com/aws/aws-sdk-go-v2/service/sns", "github.com/aws/aws-sdk-go-v2/service/sqs",
				"github.com/awslabs/aws-lambda-go-api-proxy", "flashsale/internal/httpapi", "flashsale/internal/queue"}},
	}
	seen := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		name := d.Name()
		seen++
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", "./functions/"+name)
			cmd.Dir = repoRoot
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps ./functions/%s: %v", name, err)
			}
			deps := strings.Fields(string(out))
			for _, bad := range forbiddenDeps(deps) {
				t.Errorf("functions/%s links %s", name, bad)
			}
			for _, m := range extra[name].must {
				if !slices.Contains(deps, m) {
					t.Errorf("functions/%s does not link %s", name, m)
				}
			}
			for _, m := range extra[name].mustNot {
				for _, dep := range deps {
					if strings.HasPrefix(dep, m) {
						t.Errorf("functions/%s links %s: the processor must stay lean", name, dep)
						break
					}
				}
			}
		})
	}
	if seen < 2 {
		t.Fatalf("found %d functions in functions/, want api and processor", seen)
	}
}

// TestImageBuilderNotLinked: the container image builder (tools/image,
// internal/ociimage, go-containerregistry) is a build tool: the flashsale
// CLI, which the image and every user run, does not link it.
func TestImageBuilderNotLinked(t *testing.T) {
	deps := func(pkg string) []string {
		cmd := exec.Command("go", "list", "-deps", pkg)
		cmd.Dir = repoRoot
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	builder := []string{"flashsale/internal/ociimage", "github.com/google/go-containerregistry/pkg/v1/remote"}
	cli := deps("./cmd/flashsale")
	for _, d := range cli {
		if d == "flashsale/internal/ociimage" || strings.HasPrefix(d, "github.com/google/go-containerregistry/") {
			t.Errorf("cmd/flashsale links %s (the container image builder)", d)
		}
	}
	tool := deps("./tools/image")
	for _, want := range builder {
		if !slices.Contains(tool, want) {
			t.Errorf("tools/image does not link %s: is it still the image builder?", want)
		}
	}
}
