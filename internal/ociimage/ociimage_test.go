package ociimage_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/x509"
	"debug/elf"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"flashsale/internal/ociimage"
	"flashsale/internal/workerservice"
)

// root is the module root, where ./cmd/flashsale is.
var root = filepath.Join("..", "..")

type logWriter struct{ t *testing.T }

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func build(t *testing.T, out string) *ociimage.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	begin := time.Now()
	r, err := ociimage.Build(ctx, ociimage.Options{Dir: root, Out: out, Log: logWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s in %v", out, time.Since(begin).Round(time.Millisecond))
	return r
}

var (
	firstOnce sync.Once
	first     *ociimage.Result
	// firstDir holds the first build; TestMain removes it.
	firstDir string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ociimage-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	firstDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// built is the first build of the test binary, shared by the tests (each
// build compiles flashsale for both architectures).
func built(t *testing.T) *ociimage.Result {
	t.Helper()
	firstOnce.Do(func() { first = build(t, firstDir) })
	if first == nil {
		t.Fatal("the first build failed")
	}
	return first
}

// TestReproducible builds the image twice, into two directories: the
// index, each image and each image ID are the same; then it checks what the
// first build holds.
func TestReproducible(t *testing.T) {
	a := built(t)
	b := build(t, t.TempDir())
	if a.Index != b.Index {
		t.Errorf("index digest %s, then %s: the build is not reproducible", a.Index, b.Index)
	}
	if len(a.Images) != len(ociimage.DefaultPlatforms) {
		t.Fatalf("built %d images, want %v", len(a.Images), ociimage.DefaultPlatforms)
	}
	for i, im := range a.Images {
		if im.Platform != ociimage.DefaultPlatforms[i] {
			t.Errorf("image %d is %s, want %s", i, im.Platform, ociimage.DefaultPlatforms[i])
		}
		other, _ := b.Lookup(im.Platform)
		if im.Digest != other.Digest || im.ID != other.ID {
			t.Errorf("%s: digest %s and image ID %s, then %s and %s", im.Platform, im.Digest, im.ID, other.Digest, other.ID)
		}
		t.Logf("%s: %s, image ID %s, %.1f MB to pull (binary %.1f MB)", im.Platform, im.Digest, im.ID, float64(im.Size)/1e6, float64(im.Binary)/1e6)
	}
	t.Logf("index %s, twice", a.Index)
	checkLayout(t, a)
}

// checkLayout checks the layout's index and every image in it.
func checkLayout(t *testing.T, r *ociimage.Result) {
	idx, tag, err := ociimage.LayoutIndex(r.Layout)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := idx.Digest(); d != r.Index {
		t.Errorf("layout index %s, want %s", d, r.Index)
	}
	if tag != r.Tag {
		t.Errorf("layout tag %q, want %q", tag, r.Tag)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != "application/vnd.oci.image.index.v1+json" || m.Annotations["org.opencontainers.image.revision"] != r.Revision {
		t.Errorf("index media type %s, annotations %v: want an OCI index with the revision", m.MediaType, m.Annotations)
	}
	if len(m.Manifests) != len(r.Images) {
		t.Fatalf("index lists %d manifests, want %d", len(m.Manifests), len(r.Images))
	}
	for i, d := range m.Manifests {
		im := r.Images[i]
		if d.Platform == nil || "linux/"+d.Platform.Architecture != im.Platform || d.Platform.OS != "linux" || d.Digest != im.Digest {
			t.Errorf("index entry %d: %s %+v, want %s %s", i, d.Digest, d.Platform, im.Digest, im.Platform)
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(strings.ReplaceAll(im.Platform, "/", "-"), func(t *testing.T) {
			checkImage(t, r, im, img)
			checkTarball(t, r, im)
		})
	}
}

var wantMachine = map[string]elf.Machine{"linux/amd64": elf.EM_X86_64, "linux/arm64": elf.EM_AARCH64}

func checkImage(t *testing.T, r *ociimage.Result, im ociimage.Image, img v1.Image) {
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := img.ConfigName(); id != im.ID {
		t.Errorf("config digest %s, want the image ID %s", id, im.ID)
	}
	c := cf.Config
	uid, gid, _ := strings.Cut(c.User, ":")
	if "linux/"+cf.Architecture != im.Platform || cf.OS != "linux" {
		t.Errorf("config says %s/%s, want %s", cf.OS, cf.Architecture, im.Platform)
	}
	if n, err := strconv.Atoi(uid); err != nil || n == 0 || gid != strconv.Itoa(ociimage.GID) {
		t.Errorf("user %q: want a numeric non-root uid:gid", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/usr/local/bin/flashsale", "worker", "--addr", "0.0.0.0:8081"}) || len(c.Cmd) != 0 {
		t.Errorf("entrypoint %q, cmd %q: want flashsale worker on every interface, no cmd (docker run IMAGE --queue-url ... appends flags)", c.Entrypoint, c.Cmd)
	}
	if _, ok := c.ExposedPorts["8081/tcp"]; !ok || len(c.ExposedPorts) != 1 {
		t.Errorf("exposed ports %v, want 8081/tcp", c.ExposedPorts)
	}
	if !slices.Contains(c.Env, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt") {
		t.Errorf("env %v lacks SSL_CERT_FILE", c.Env)
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.revision": r.Revision,
		"org.opencontainers.image.created":  r.Created.Format(time.RFC3339),
		"org.opencontainers.image.title":    "flashsale",
	} {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
	if !cf.Created.Time.Equal(r.Created) || len(cf.History) != 2 {
		t.Errorf("created %v, %d history entries; want %v and 2", cf.Created, len(cf.History), r.Created)
	}
	for _, h := range cf.History {
		if !h.Created.Time.Equal(r.Created) {
			t.Errorf("history %q created %v, want %v", h.CreatedBy, h.Created, r.Created)
		}
	}
	if c, err := commitTime(); err == nil && os.Getenv("SOURCE_DATE_EPOCH") == "" && !r.Created.Equal(c) {
		t.Errorf("created %v, want the commit's time %v", r.Created, c)
	}

	files := map[string]*tar.Header{}
	contents := map[string][]byte{}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimSuffix(h.Name, "/")] = h
		if h.Typeflag == tar.TypeReg {
			if contents[h.Name], err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
		if !h.ModTime.Equal(r.Created) {
			t.Errorf("%s: mtime %v, want %v", h.Name, h.ModTime, r.Created)
		}
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	t.Logf("files: %s", strings.Join(names, " "))

	bin := contents["usr/local/bin/flashsale"]
	if h := files["usr/local/bin/flashsale"]; h == nil || h.Mode&0o111 == 0 || h.Uid != 0 {
		t.Fatalf("usr/local/bin/flashsale: %+v, want an executable owned by root", h)
	}
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("flashsale is not an ELF file: %v", err)
	}
	if f.Machine != wantMachine[im.Platform] || f.Type != elf.ET_EXEC {
		t.Errorf("flashsale: ELF %v %v, want an executable for %v", f.Type, f.Machine, wantMachine[im.Platform])
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("flashsale has a %v program header: not static", p.Type)
		}
	}
	if f.Section(".symtab") != nil {
		t.Error("flashsale has a symbol table: not built with -s")
	}

	want := "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin"
	if !slices.Contains(strings.Split(string(contents["etc/passwd"]), "\n"), want) {
		t.Errorf("/etc/passwd:\n%s\nwant the line %s", contents["etc/passwd"], want)
	}
	if !slices.Contains(strings.Split(string(contents["etc/group"]), "\n"), "nonroot:x:65532:") {
		t.Errorf("/etc/group:\n%s\nwant nonroot:x:65532:", contents["etc/group"])
	}
	if h := files["home/nonroot"]; h == nil || h.Typeflag != tar.TypeDir || h.Uid != ociimage.UID || h.Gid != ociimage.GID {
		t.Errorf("home/nonroot: %+v, want a directory of the user", h)
	}
	if h := files["tmp"]; h == nil || h.Mode&0o7777 != 0o1777 {
		t.Errorf("tmp: %+v, want mode 1777", h)
	}
	checkCABundle(t, contents["etc/ssl/certs/ca-certificates.crt"])
}

// checkCABundle: every PEM block is a CA certificate crypto/x509 parses, and
// the roots AWS's endpoints chain to are there.
func checkCABundle(t *testing.T, data []byte) {
	t.Helper()
	var subjects []string
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			if len(bytes.TrimSpace(rest)) > 0 {
				t.Errorf("CA bundle: %d bytes that are not PEM", len(rest))
			}
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Errorf("CA bundle: certificate %d: %v", len(subjects)+1, err)
			continue
		}
		if !c.IsCA {
			t.Errorf("CA bundle: %s is not a CA", c.Subject)
		}
		subjects = append(subjects, c.Subject.CommonName)
	}
	if len(subjects) < 100 {
		t.Errorf("CA bundle holds %d certificates, want the NSS roots (over 100)", len(subjects))
	}
	for _, cn := range []string{"Amazon Root CA 1", "Amazon Root CA 3", "Starfield Services Root Certificate Authority - G2"} {
		if !slices.Contains(subjects, cn) {
			t.Errorf("CA bundle lacks %s", cn)
		}
	}
	if pool := x509.NewCertPool(); !pool.AppendCertsFromPEM(data) {
		t.Error("CA bundle: x509.CertPool.AppendCertsFromPEM found nothing")
	}
	t.Logf("CA bundle: %d roots, %d bytes", len(subjects), len(data))
}

// checkTarball: the `docker load` tarball holds the same image under the
// build's tags.
func checkTarball(t *testing.T, r *ociimage.Result, im ociimage.Image) {
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(im.Tarball) })
	if err != nil {
		t.Fatalf("%s: %v", im.Tarball, err)
	}
	if len(m) != 1 {
		t.Fatalf("%s holds %d images, want 1", im.Tarball, len(m))
	}
	tags := slices.Clone(m[0].RepoTags)
	slices.Sort(tags)
	want := []string{"flashsale:" + r.Tag, "flashsale:latest"}
	slices.Sort(want)
	if !slices.Equal(tags, want) {
		t.Errorf("%s: tags %v, want %v", im.Tarball, tags, want)
	}
	img, err := tarball.ImageFromPath(im.Tarball, nil)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := img.ConfigName(); id != im.ID {
		t.Errorf("%s: image ID %s, want %s", im.Tarball, id, im.ID)
	}
}

func commitTime() (time.Time, error) {
	cmd := exec.Command("git", "log", "-1", "--format=%ct")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return time.Time{}, err
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	return time.Unix(sec, 0).UTC(), err
}

// TestPush pushes the built layout to an in-process registry (no network
// but loopback) with the keychain make image-push uses, then pulls the
// index and each platform's image back by tag and by digest.
func TestPush(t *testing.T) {
	r := built(t)
	// docker login's file, empty: nothing of this machine's credentials.
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	repo := host + "/flashsale"
	out, err := ociimage.Push(context.Background(), r.Layout, repo, nil, authn.DefaultKeychain)
	if err != nil {
		t.Fatal(err)
	}
	wantTags := []string{repo + ":" + r.Tag, repo + ":latest"}
	if out.Digest != r.Index || out.Ref != repo+"@"+r.Index.String() || !slices.Equal(out.Tags, wantTags) {
		t.Errorf("pushed %+v, want %s at %s", out, wantTags, r.Index)
	}
	for _, ref := range append(wantTags, out.Ref) {
		ref, err := name.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := remote.Index(ref)
		if err != nil {
			t.Fatalf("pull %s: %v", ref, err)
		}
		if d, _ := idx.Digest(); d != r.Index {
			t.Errorf("%s: index %s, want %s", ref, d, r.Index)
		}
		for _, im := range r.Images {
			p, _ := v1.ParsePlatform(im.Platform)
			img, err := remote.Image(ref, remote.WithPlatform(*p))
			if err != nil {
				t.Fatalf("pull %s for %s: %v", ref, im.Platform, err)
			}
			if d, _ := img.Digest(); d != im.Digest {
				t.Errorf("%s for %s: %s, want %s", ref, im.Platform, d, im.Digest)
			}
		}
	}
	t.Logf("pushed %s and pulled it back: %s", strings.Join(out.Tags, ", "), out.Ref)

	// A repository without a registry is refused before anything is sent.
	if _, err := ociimage.Push(context.Background(), r.Layout, "flashsale", nil, authn.DefaultKeychain); err == nil || !strings.Contains(err.Error(), "names no registry") {
		t.Errorf("push to a bare name: %v, want an error naming the missing registry", err)
	}
}

func TestCABundle(t *testing.T) {
	data, n, err := ociimage.CABundle()
	if err != nil {
		t.Fatal(err)
	}
	if got := bytes.Count(data, []byte("-----BEGIN CERTIFICATE-----")); got != n {
		t.Errorf("%d PEM blocks, CABundle says %d", got, n)
	}
	checkCABundle(t, data)
	again, _, _ := ociimage.CABundle()
	if !bytes.Equal(data, again) {
		t.Error("CABundle differs from one call to the next")
	}
}

func TestPublicURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://github.com/acme/flashsale.git":            "https://github.com/acme/flashsale.git",
		"https://user:token@github.com/acme/flashsale.git": "https://github.com/acme/flashsale.git",
		"http://git.internal:8080/acme/flashsale":          "http://git.internal:8080/acme/flashsale",
		"git@github.com:acme/flashsale.git":                "https://github.com/acme/flashsale.git",
		"ssh://git@github.com:22/acme/flashsale.git":       "https://github.com/acme/flashsale.git",
		"/srv/git/flashsale.git":                           "",
		"file:///srv/git/flashsale.git":                    "",
		"":                                                 "",
	} {
		if got := ociimage.PublicURL(in); got != want {
			t.Errorf("PublicURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHealthPort: the image exposes the port of the worker's --addr default.
func TestHealthPort(t *testing.T) {
	_, port, err := net.SplitHostPort(workerservice.DefaultAddr)
	if err != nil {
		t.Fatal(err)
	}
	if port != strconv.Itoa(ociimage.HealthPort) {
		t.Errorf("the image exposes %d, the worker listens on %s by default", ociimage.HealthPort, port)
	}
}

// TestBuildErrors: a platform the image is not made for is refused.
func TestBuildErrors(t *testing.T) {
	for _, p := range []string{"windows/amd64", "linux/riscv64", "linux/arm/v7", "nonsense"} {
		_, err := ociimage.Build(context.Background(), ociimage.Options{Dir: root, Out: t.TempDir(), Platforms: []string{p},
			Git: &ociimage.Git{Commit: "0123456789abcdef", Short: "0123456789ab"}})
		if err == nil || !strings.Contains(err.Error(), "want linux/amd64 or linux/arm64") {
			t.Errorf("platform %s: %v, want refused", p, err)
		}
	}
}
