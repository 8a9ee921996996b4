package ociimage

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Pushed is what Push wrote.
type Pushed struct {
	// Digest is the index's digest; Ref the repository at that digest
	// (repo@sha256:...), what a deployment should name.
	Digest v1.Hash
	Ref    string
	// Tags are the tags pushed (repo:tag).
	Tags []string
}

// LayoutIndex returns the image index of the OCI layout at dir (the one
// Build wrote) and its tag (the RefName annotation).
func LayoutIndex(dir string) (v1.ImageIndex, string, error) {
	lp, err := layout.FromPath(dir)
	if err != nil {
		return nil, "", fmt.Errorf("OCI layout %s: %w (build it with make image)", dir, err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		return nil, "", fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	m, err := top.IndexManifest()
	if err != nil {
		return nil, "", fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	if len(m.Manifests) != 1 || !m.Manifests[0].MediaType.IsIndex() {
		return nil, "", fmt.Errorf("OCI layout %s: want one image index in index.json, found %d descriptors", dir, len(m.Manifests))
	}
	d := m.Manifests[0]
	idx, err := top.ImageIndex(d.Digest)
	if err != nil {
		return nil, "", fmt.Errorf("OCI layout %s: index %s: %w", dir, d.Digest, err)
	}
	return idx, d.Annotations[RefName], nil
}

// Push pushes the image index of the layout at dir to repo (a registry and
// repository, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/flashsale)
// under each tag (the layout's own tag and "latest" when none is given),
// with the credentials kc finds (authn.DefaultKeychain: docker login's
// ~/.docker/config.json and its credential helpers), then reads the digest
// each tag names back from the registry and checks it is the index's.
func Push(ctx context.Context, dir, repo string, tags []string, kc authn.Keychain, opts ...remote.Option) (Pushed, error) {
	idx, tag, err := LayoutIndex(dir)
	if err != nil {
		return Pushed{}, err
	}
	if len(tags) == 0 {
		if tag == "" {
			return Pushed{}, fmt.Errorf("OCI layout %s: its index has no tag (%s): name the tags to push", dir, RefName)
		}
		tags = []string{tag, "latest"}
	}
	r, err := name.NewRepository(repo)
	if err != nil {
		return Pushed{}, fmt.Errorf("repository %q: %w (want <registry>/<name>, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/flashsale)", repo, err)
	}
	if !hasRegistry(repo) {
		return Pushed{}, fmt.Errorf("repository %q names no registry: want <registry>/<name>, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/flashsale", repo)
	}
	digest, err := idx.Digest()
	if err != nil {
		return Pushed{}, err
	}
	opts = append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}, opts...)
	out := Pushed{Digest: digest, Ref: r.Digest(digest.String()).String()}
	for i, t := range tags {
		ref := r.Tag(t)
		if i == 0 {
			err = remote.WriteIndex(ref, idx, opts...)
		} else {
			err = remote.Tag(ref, idx, opts...)
		}
		if err != nil {
			return out, fmt.Errorf("push %s: %w", ref, err)
		}
		desc, err := remote.Head(ref, opts...)
		if err != nil {
			return out, fmt.Errorf("push %s: reading it back: %w", ref, err)
		}
		if desc.Digest != digest {
			return out, fmt.Errorf("push %s: the registry has %s, want %s", ref, desc.Digest, digest)
		}
		out.Tags = append(out.Tags, ref.String())
	}
	if len(out.Tags) == 0 {
		return out, errors.New("push: no tag")
	}
	return out, nil
}

// hasRegistry: the first path element of repo names a host (a dot, a port
// or localhost), as Docker decides.
func hasRegistry(repo string) bool {
	first, _, ok := strings.Cut(repo, "/")
	return ok && (first == "localhost" || strings.ContainsAny(first, ".:"))
}
