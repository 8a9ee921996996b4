package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
)

// TestUsage: the command line's mistakes are usage errors (exit 2) that say
// what is wanted, before anything is built or pushed. Building and pushing
// themselves are tested in internal/ociimage.
func TestUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "missing command"},
		{[]string{"deploy"}, `unknown command "deploy"`},
		{[]string{"push"}, "--repo is required"},
		{[]string{"push", "--repo", "r.example/flashsale", "extra"}, `unexpected argument "extra"`},
		{[]string{"build", "--no-such-flag"}, "flag provided but not defined"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), tt.args, &stdout, &stderr)
		if !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("image %q: %v, want a usage error saying %q", tt.args, err, tt.want)
		}
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"help"}, &stdout, &stdout); err != nil || !strings.Contains(stdout.String(), "image build") {
		t.Errorf("image help: %v\n%s", err, stdout.String())
	}
	if err := run(context.Background(), []string{"push", "--help"}, &stdout, &stdout); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("image push --help: %v, want flag.ErrHelp", err)
	}
}
