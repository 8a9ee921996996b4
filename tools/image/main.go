// Command image builds and pushes the worker service's container image with
// go-containerregistry (internal/ociimage): no Dockerfile, no Docker daemon
// and no registry needed to build, nothing pulled. It is `make image` and
// `make image-push`; the flashsale CLI does not link it.
//
//	go run ./tools/image build [--out bin/image] [--platforms linux/amd64,linux/arm64] [--load=true]
//	go run ./tools/image push --repo <registry>/flashsale [--layout bin/image/oci] [--tags TAG,...]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/authn"

	"flashsale/internal/ociimage"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

type usageError struct{ error }

const usage = `Usage:
  image build [--out DIR] [--platforms linux/amd64,linux/arm64] [--repository flashsale] [--source URL] [--load=true]
  image push --repo REGISTRY/NAME [--layout DIR/oci] [--tags TAG,...]

build: the worker service's image for each platform, from nothing pulled, into
  DIR/oci (an OCI image layout with the multi-platform index, for push),
  DIR/flashsale-<os>-<arch>.tar (docker load) and DIR/image.json; then, when a
  Docker Engine answers, loads this machine's as REPOSITORY:latest and
  REPOSITORY:<commit>. Timestamps: SOURCE_DATE_EPOCH, else the commit's time.
push: pushes the layout's index to REPOSITORY under its commit tag and latest,
  with docker login's credentials (~/.docker/config.json, credential helpers).`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return usageError{errors.New("missing command: build or push")}
	}
	switch args[0] {
	case "build":
		return build(ctx, args[1:], stdout, stderr)
	case "push":
		return push(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return usageError{fmt.Errorf("unknown command %q: want build or push", args[0])}
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func build(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("image build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		opts      ociimage.Options
		platforms string
		load      bool
	)
	fs.StringVar(&opts.Out, "out", "bin/image", "output directory")
	fs.StringVar(&platforms, "platforms", strings.Join(ociimage.DefaultPlatforms, ","), "platforms, comma-separated")
	fs.StringVar(&opts.Repository, "repository", ociimage.DefaultRepository, "the image's name in the tarballs and the local Docker Engine")
	fs.StringVar(&opts.Source, "source", "", "org.opencontainers.image.source label (default: the git remote origin's URL, without credentials)")
	fs.BoolVar(&load, "load", true, "load this machine's image into the Docker Engine, when one answers")
	if err := parse(fs, args); err != nil {
		return err
	}
	opts.Platforms = split(platforms)
	opts.Log = prefixed{stdout}
	res, err := ociimage.Build(ctx, opts)
	if err != nil {
		return err
	}
	created := "the commit's time"
	if os.Getenv("SOURCE_DATE_EPOCH") != "" {
		created = "SOURCE_DATE_EPOCH"
	}
	fmt.Fprintf(stdout, "image: flashsale %s, every timestamp %s (%s)\n", res.Revision, res.Created.Format("2006-01-02T15:04:05Z"), created)
	if res.Dirty {
		fmt.Fprintf(stdout, "image: the work tree has uncommitted changes: this is not the image of commit %s (tagged %s)\n", res.Revision, res.Tag)
	}
	var names []string
	for _, im := range res.Images {
		names = append(names, im.Platform)
		fmt.Fprintf(stdout, "image: %-12s %s  %.1f MB to pull (binary %.1f MB)  %s  image ID %s\n",
			im.Platform, im.Digest, float64(im.Size)/1e6, float64(im.Binary)/1e6, im.Tarball, im.ID)
	}
	fmt.Fprintf(stdout, "image: index %s (%s) in %s, tag %s: make image-push REPO=<registry>/flashsale\n",
		res.Index, strings.Join(names, ", "), res.Layout, res.Tag)
	if !load {
		return nil
	}
	host, ok := res.Lookup(ociimage.HostPlatform())
	if !ok {
		fmt.Fprintf(stdout, "image: nothing to load: %s was not built\n", ociimage.HostPlatform())
		return nil
	}
	if ok, why := ociimage.DockerAnswers(ctx); !ok {
		fmt.Fprintf(stdout, "image: not loaded: %s; later: docker load --input %s\n", why, host.Tarball)
		return nil
	}
	if err := ociimage.Load(ctx, host, res.Refs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "image: loaded into Docker as %s (%s, image ID %s)\n", strings.Join(res.Refs, " and "), host.Platform, host.ID)
	return nil
}

func push(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("image push", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dir, repo, tags string
	fs.StringVar(&dir, "layout", "bin/image/oci", "the OCI image layout image build wrote")
	fs.StringVar(&repo, "repo", "", "registry and repository, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/flashsale (required)")
	fs.StringVar(&tags, "tags", "", "tags to push, comma-separated (default: the layout's commit tag and latest)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if repo == "" {
		return usageError{errors.New("push: --repo is required (make image-push REPO=<registry>/flashsale)")}
	}
	out, err := ociimage.Push(ctx, dir, repo, split(tags), authn.DefaultKeychain)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "image: pushed %s\n", strings.Join(out.Tags, " and "))
	fmt.Fprintf(stdout, "image: %s (for the stack: WorkerImage=%s)\n", out.Ref, out.Ref)
	return nil
}

// prefixed writes each line with "image: " before it.
type prefixed struct{ w io.Writer }

func (p prefixed) Write(b []byte) (int, error) {
	if _, err := fmt.Fprintf(p.w, "image: %s", b); err != nil {
		return 0, err
	}
	return len(b), nil
}
