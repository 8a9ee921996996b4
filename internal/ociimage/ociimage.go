// Package ociimage builds the worker service's container image with
// go-containerregistry (the library ko is built on), from nothing pulled and
// without a Docker daemon: a static flashsale binary per architecture, a
// non-root user, a CA bundle, on an empty base. It writes an OCI image layout
// holding the multi-platform index (what a registry gets, see Push) and, per
// architecture, a tarball in the `docker save` format that `docker load`
// accepts.
//
// Every timestamp is fixed (SOURCE_DATE_EPOCH, else the commit's time) and
// every input comes from the commit and its go.sum, so that two builds of one
// commit with one Go toolchain give the same digests.
//
// It is used by tools/image (make image, make image-push) and the tests; the
// flashsale CLI and the Lambdas never link it.
package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// What the image holds and how it runs.
const (
	// UID and GID of the image's user, "nonroot" (distroless's and ko's
	// choice of number).
	UID = 65532
	GID = 65532
	// UserName is the user's name in /etc/passwd and /etc/group.
	UserName = "nonroot"
	// Home is the user's home directory and the working directory.
	Home = "/home/nonroot"
	// Binary is where the flashsale binary is.
	Binary = "/usr/local/bin/flashsale"
	// CertFile is the CA bundle, where Go looks first on Linux (and named
	// by SSL_CERT_FILE).
	CertFile = "/etc/ssl/certs/ca-certificates.crt"
	// HealthPort is the port of the worker's /health and /metrics, the
	// port of flashsale worker's --addr default (127.0.0.1:8081), bound on
	// every interface of the container.
	HealthPort = 8081
	// DefaultRepository names the image in the local Docker Engine.
	DefaultRepository = "flashsale"
)

// DefaultPlatforms are the platforms built unless told: Fargate's two.
var DefaultPlatforms = []string{"linux/amd64", "linux/arm64"}

// Entrypoint is the image's entrypoint: `flashsale worker` listening on every
// interface, so that `docker run IMAGE --queue-url URL ...` appends the
// worker's flags (a later --addr overrides this one). The image has no Cmd.
var Entrypoint = []string{Binary, "worker", "--addr", "0.0.0.0:" + strconv.Itoa(HealthPort)}

// GoBuildFlags are the flags of the binary's `go build`, with CGO_ENABLED=0,
// GOOS and GOARCH of the platform, GOAMD64=v1, GOARM64=v8.0 and
// GOFLAGS=-mod=readonly (whatever the caller's environment or `go env -w`
// says). No version control stamp: the revision is in the image's labels,
// and the binary depends on the sources alone.
var GoBuildFlags = []string{"-trimpath", "-buildvcs=false", "-ldflags", "-s -w -buildid="}

// OCI annotation keys used as labels.
const (
	labelTitle       = "org.opencontainers.image.title"
	labelDescription = "org.opencontainers.image.description"
	labelSource      = "org.opencontainers.image.source"
	labelRevision    = "org.opencontainers.image.revision"
	labelCreated     = "org.opencontainers.image.created"
	// RefName annotates the index's descriptor in the layout with its tag.
	RefName = "org.opencontainers.image.ref.name"
)

// Options configure Build.
type Options struct {
	// Dir is the module root, where ./cmd/flashsale is built; "." when
	// empty.
	Dir string
	// Out is the output directory: Out/oci (the OCI layout),
	// Out/flashsale-<os>-<arch>.tar and Out/image.json. Required.
	Out string
	// Platforms to build, "os/arch"; DefaultPlatforms when empty.
	Platforms []string
	// Repository names the image in the tarballs' tags;
	// DefaultRepository when empty.
	Repository string
	// Tags of the tarballs (and so of `docker load`); "latest" and the
	// short revision (with "-dirty" for a modified work tree) when empty.
	Tags []string
	// Git describes the commit; read from Dir's repository when nil.
	Git *Git
	// Source is the org.opencontainers.image.source label; Git.Remote when
	// empty, and no label when both are.
	Source string
	// Created is every timestamp of the image; when zero, SOURCE_DATE_EPOCH,
	// else the commit's time, else the Unix epoch.
	Created time.Time
	// Go is the go command; "go" when empty.
	Go string
	// Log receives a line per step; nothing when nil.
	Log io.Writer
}

// Result is what Build wrote.
type Result struct {
	// Index is the digest of the multi-platform image index.
	Index v1.Hash `json:"index"`
	// Layout is the OCI image layout holding the index.
	Layout string `json:"layout"`
	// Tag is the index's tag in the layout (RefName): the short revision.
	Tag string `json:"tag"`
	// Revision is the commit, Created the images' time.
	Revision string    `json:"revision"`
	Dirty    bool      `json:"dirty,omitempty"`
	Created  time.Time `json:"created"`
	// Refs are the tarballs' references (repository:tag).
	Refs   []string `json:"refs"`
	Images []Image  `json:"images"`
}

// Image is one platform's image.
type Image struct {
	Platform string `json:"platform"`
	// Digest is the image manifest's digest (what a registry names it by).
	Digest v1.Hash `json:"digest"`
	// ID is the config's digest: the image ID Docker shows.
	ID v1.Hash `json:"id"`
	// Tarball is the `docker load` tarball.
	Tarball string `json:"tarball"`
	// Size is the manifest, config and compressed layers in bytes (what a
	// pull transfers); Binary the flashsale binary's size.
	Size   int64 `json:"size"`
	Binary int64 `json:"binary"`
}

// Lookup returns the image of platform, if built.
func (r *Result) Lookup(platform string) (Image, bool) {
	for _, im := range r.Images {
		if im.Platform == platform {
			return im, true
		}
	}
	return Image{}, false
}

// HostPlatform is this machine's platform, "linux/" + GOARCH.
func HostPlatform() string { return "linux/" + runtime.GOARCH }

// Build builds the image for every platform and writes the layout, the
// tarballs and Out/image.json (the Result).
func Build(ctx context.Context, opts Options) (*Result, error) {
	if opts.Out == "" {
		return nil, errors.New("ociimage: no output directory")
	}
	if opts.Dir == "" {
		opts.Dir = "."
	}
	if len(opts.Platforms) == 0 {
		opts.Platforms = DefaultPlatforms
	}
	if opts.Repository == "" {
		opts.Repository = DefaultRepository
	}
	if opts.Go == "" {
		opts.Go = "go"
	}
	logf := func(format string, args ...any) {
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, format+"\n", args...)
		}
	}
	if opts.Git == nil {
		g, err := ReadGit(ctx, opts.Dir)
		if err != nil {
			return nil, err
		}
		opts.Git = &g
	}
	g := opts.Git
	if opts.Source == "" {
		opts.Source = g.Remote
	}
	if opts.Created.IsZero() {
		var err error
		if opts.Created, err = createdTime(g); err != nil {
			return nil, err
		}
	}
	created := opts.Created.UTC()
	tag := g.Short
	if g.Dirty {
		tag += "-dirty"
	}
	if len(opts.Tags) == 0 {
		opts.Tags = []string{"latest", tag}
	}
	var refs []name.Reference
	for _, t := range opts.Tags {
		ref, err := name.NewTag(opts.Repository + ":" + t)
		if err != nil {
			return nil, fmt.Errorf("ociimage: tag %q: %w", opts.Repository+":"+t, err)
		}
		refs = append(refs, ref)
	}
	goVersion, err := goEnv(ctx, opts.Go, opts.Dir, "GOVERSION")
	if err != nil {
		return nil, err
	}

	base, roots, err := baseLayer(created)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{
		labelTitle:       "flashsale",
		labelDescription: "flashsale worker: drains the SQS orders queue and pays each order once (see README, Container image)",
		labelRevision:    g.Commit,
		labelCreated:     created.Format(time.RFC3339),
	}
	if opts.Source != "" {
		labels[labelSource] = opts.Source
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, err
	}
	binDir, err := os.MkdirTemp(opts.Out, ".bin-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(binDir)

	res := &Result{Revision: g.Commit, Dirty: g.Dirty, Created: created, Tag: tag}
	for _, r := range refs {
		res.Refs = append(res.Refs, r.String())
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, platform := range opts.Platforms {
		p, err := v1.ParsePlatform(platform)
		if err != nil || p.OS != "linux" || (p.Architecture != "amd64" && p.Architecture != "arm64") || p.Variant != "" {
			return nil, fmt.Errorf("ociimage: platform %q: want linux/amd64 or linux/arm64", platform)
		}
		bin := filepath.Join(binDir, "flashsale-"+p.OS+"-"+p.Architecture)
		logf("building %s for %s (%s, CGO_ENABLED=0 go build %s)", Binary, platform, goVersion, strings.Join(quoteAll(GoBuildFlags), " "))
		if err := goBuild(ctx, opts, p, bin); err != nil {
			return nil, err
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return nil, err
		}
		img, err := platformImage(p, base, data, created, labels,
			fmt.Sprintf("CA certificates (%d roots of golang.org/x/crypto/x509roots/fallback), user %s (%d:%d), %s, /tmp", roots, UserName, UID, GID, Home),
			fmt.Sprintf("%s: flashsale %s built by %s for %s (CGO_ENABLED=0 go build %s)", Binary, g.Commit, goVersion, platform, strings.Join(quoteAll(GoBuildFlags), " ")))
		if err != nil {
			return nil, fmt.Errorf("ociimage: %s: %w", platform, err)
		}
		im := Image{Platform: platform, Binary: int64(len(data)),
			Tarball: filepath.Join(opts.Out, "flashsale-"+p.OS+"-"+p.Architecture+".tar")}
		if im.Digest, err = img.Digest(); err != nil {
			return nil, err
		}
		if im.ID, err = img.ConfigName(); err != nil {
			return nil, err
		}
		if im.Size, err = pullSize(img); err != nil {
			return nil, err
		}
		byRef := map[name.Reference]v1.Image{}
		for _, r := range refs {
			byRef[r] = img
		}
		if err := tarball.MultiRefWriteToFile(im.Tarball, byRef); err != nil {
			return nil, fmt.Errorf("ociimage: write %s: %w", im.Tarball, err)
		}
		res.Images = append(res.Images, im)
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: p.OS, Architecture: p.Architecture}}})
	}
	idx = mutate.AppendManifests(idx, adds...)
	idx, ok := mutate.Annotations(idx, labels).(v1.ImageIndex)
	if !ok {
		return nil, errors.New("ociimage: annotating the index did not give an index")
	}
	if res.Index, err = idx.Digest(); err != nil {
		return nil, err
	}
	res.Layout = filepath.Join(opts.Out, "oci")
	if err := os.RemoveAll(res.Layout); err != nil {
		return nil, err
	}
	lp, err := layout.Write(res.Layout, empty.Index)
	if err != nil {
		return nil, fmt.Errorf("ociimage: layout %s: %w", res.Layout, err)
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{RefName: tag})); err != nil {
		return nil, fmt.Errorf("ociimage: layout %s: %w", res.Layout, err)
	}
	summary, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(opts.Out, "image.json"), append(summary, '\n'), 0o644); err != nil {
		return nil, err
	}
	return res, nil
}

func quoteAll(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if strings.ContainsAny(a, " \t") {
			out[i] = strconv.Quote(a)
		}
	}
	return out
}

// goBuild builds ./cmd/flashsale for p into out, with the environment that
// decides the binary fixed: no cgo, the baseline instruction set, GOFLAGS
// overridden (an empty GOFLAGS would let `go env -w GOFLAGS=...` apply).
func goBuild(ctx context.Context, opts Options, p *v1.Platform, out string) error {
	args := append([]string{"build"}, GoBuildFlags...)
	args = append(args, "-o", out, "./cmd/flashsale")
	cmd := exec.CommandContext(ctx, opts.Go, args...)
	cmd.Dir = opts.Dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture,
		"GOAMD64=v1", "GOARM64=v8.0", "GOFLAGS=-mod=readonly")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ociimage: go %s (GOOS=%s GOARCH=%s): %w\n%s", strings.Join(args, " "), p.OS, p.Architecture, err, b)
	}
	return nil
}

func goEnv(ctx context.Context, goCmd, dir, key string) (string, error) {
	cmd := exec.CommandContext(ctx, goCmd, "env", key)
	cmd.Dir = dir
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("ociimage: go env %s: %w", key, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// pullSize is what a pull of img transfers: manifest, config and
// compressed layers.
func pullSize(img v1.Image) (int64, error) {
	m, err := img.RawManifest()
	if err != nil {
		return 0, err
	}
	mf, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	n := int64(len(m)) + mf.Config.Size
	for _, l := range mf.Layers {
		n += l.Size
	}
	return n, nil
}

// platformImage is the image of one platform: the base layer, then the
// binary's.
func platformImage(p *v1.Platform, base v1.Layer, binary []byte, created time.Time, labels map[string]string, baseWhat, binWhat string) (v1.Image, error) {
	app, err := layer([]entry{{name: strings.TrimPrefix(Binary, "/"), mode: 0o755, data: binary}}, created)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	at := v1.Time{Time: created}
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{Created: at, CreatedBy: baseWhat, Comment: "ociimage"}},
		mutate.Addendum{Layer: app, MediaType: types.OCILayer, History: v1.History{Created: at, CreatedBy: binWhat, Comment: "ociimage"}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = p.OS, p.Architecture, at
	cf.Config = v1.Config{
		User: fmt.Sprintf("%d:%d", UID, GID),
		Env: []string{
			"PATH=" + filepath.Dir(Binary),
			"HOME=" + Home,
			"SSL_CERT_FILE=" + CertFile,
		},
		Entrypoint:   slices.Clone(Entrypoint),
		WorkingDir:   Home,
		ExposedPorts: map[string]struct{}{strconv.Itoa(HealthPort) + "/tcp": {}},
		Labels:       labels,
		StopSignal:   "SIGTERM",
	}
	return mutate.ConfigFile(img, cf)
}

// entry is one file or directory of a layer.
type entry struct {
	name     string
	mode     int64
	uid, gid int
	dir      bool
	data     []byte
}

// layer makes a gzip-compressed OCI layer of entries, in order, every time
// set to mtime, owner names left out.
func layer(entries []entry, mtime time.Time) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: mtime,
			Typeflag: tar.TypeReg, Size: int64(len(e.data)), Format: tar.FormatPAX,
		}
		if e.dir {
			h.Typeflag, h.Size, h.Name = tar.TypeDir, 0, strings.TrimSuffix(e.name, "/")+"/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	raw := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil },
		tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.DefaultCompression), tarball.WithCompressedCaching)
}

// baseLayer holds the user, the CA bundle and the directories; the same for
// every platform. It returns the number of CA roots.
func baseLayer(mtime time.Time) (v1.Layer, int, error) {
	certs, n, err := CABundle()
	if err != nil {
		return nil, 0, err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:%s:/sbin/nologin\n", UserName, UID, GID, UserName, Home)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\n", UserName, GID)
	l, err := layer([]entry{
		{name: "etc", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/ssl", mode: 0o755, dir: true},
		{name: "etc/ssl/certs", mode: 0o755, dir: true},
		{name: strings.TrimPrefix(CertFile, "/"), mode: 0o644, data: certs},
		{name: "home", mode: 0o755, dir: true},
		{name: strings.TrimPrefix(Home, "/"), mode: 0o700, uid: UID, gid: GID, dir: true},
		{name: "tmp", mode: 0o1777, dir: true},
		{name: "usr", mode: 0o755, dir: true},
		{name: "usr/local", mode: 0o755, dir: true},
		{name: "usr/local/bin", mode: 0o755, dir: true},
	}, mtime)
	return l, n, err
}

// CABundle is the image's CA bundle in PEM: the NSS roots of
// golang.org/x/crypto/x509roots/fallback at the version go.sum pins, in
// its order. A root with a constraint PEM cannot carry (a distrust-after
// date) is left out rather than trusted without it. It returns the number
// of roots.
func CABundle() ([]byte, int, error) {
	var buf bytes.Buffer
	n := 0
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate}); err != nil {
			return nil, 0, err
		}
		n++
	}
	if n == 0 {
		return nil, 0, errors.New("ociimage: the fallback bundle has no roots")
	}
	return buf.Bytes(), n, nil
}

// Git is what the image records of the commit it is built from.
type Git struct {
	Commit string // full hash
	Short  string // its first 12 characters
	Dirty  bool   // the work tree has changes (as go build's vcs.modified)
	Time   time.Time
	Remote string // origin's URL, credentials removed; may be empty
}

// ReadGit reads the commit of dir's repository.
func ReadGit(ctx context.Context, dir string) (Git, error) {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = dir
		b, err := cmd.Output()
		return strings.TrimSpace(string(b)), err
	}
	commit, err := git("rev-parse", "HEAD")
	if err != nil {
		return Git{}, fmt.Errorf("ociimage: %s is not a git work tree with a commit (git rev-parse HEAD: %v): the image records the commit it is built from", dir, err)
	}
	g := Git{Commit: commit, Short: commit[:min(12, len(commit))]}
	ct, err := git("log", "-1", "--format=%ct", "HEAD")
	if err != nil {
		return Git{}, fmt.Errorf("ociimage: commit time: %w", err)
	}
	sec, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return Git{}, fmt.Errorf("ociimage: commit time %q: %w", ct, err)
	}
	g.Time = time.Unix(sec, 0).UTC()
	status, err := git("status", "--porcelain")
	if err != nil {
		return Git{}, fmt.Errorf("ociimage: git status: %w", err)
	}
	g.Dirty = status != ""
	if remote, err := git("remote", "get-url", "origin"); err == nil {
		g.Remote = PublicURL(remote)
	}
	return g, nil
}

// PublicURL is a repository URL fit for a label: an http(s) URL without
// its user and password, or an scp-like or ssh address (git@host:path)
// turned into https; "" for anything else (a local path says nothing to
// whoever pulls the image).
func PublicURL(remote string) string {
	if u, err := url.Parse(remote); err == nil && u.Scheme != "" && u.Host != "" {
		switch u.Scheme {
		case "ssh", "git":
			u.Scheme, u.Host = "https", u.Hostname()
			fallthrough
		case "http", "https":
			u.User = nil
			return u.String()
		}
		return ""
	}
	at := strings.Index(remote, "@")
	colon := strings.Index(remote, ":")
	if at > 0 && colon > at+1 && !strings.Contains(remote, "://") {
		return "https://" + remote[at+1:colon] + "/" + strings.TrimPrefix(remote[colon+1:], "/")
	}
	return ""
}

// createdTime is SOURCE_DATE_EPOCH when set, else the commit's time.
func createdTime(g *Git) (time.Time, error) {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil || sec < 0 {
			return time.Time{}, fmt.Errorf("ociimage: SOURCE_DATE_EPOCH=%q: want seconds since 1970", s)
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	if !g.Time.IsZero() {
		return g.Time, nil
	}
	return time.Unix(0, 0).UTC(), nil
}
