# The two set-up commands of README.md:
#   make example   install prerequisites, build bin/bundle, fill the source cache and run
#                  `bundle build` on recipes/example.yaml (the main job)
#   make test      install prerequisites and run every test (unit, fuzz seeds, end to end)
GO      ?= go
BIN     := bin/bundle
OUT     := out/demo
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export CGO_ENABLED := 0
# A fixed build time makes the example RPMs, and so the example tarball, reproducible.
export SOURCE_DATE_EPOCH ?= 1767225600

# Debian 12 packages bundle drives (rpm tools, createrepo_c, the sandbox
# builder's mmdebstrap and bubblewrap) and the peers the tests compare with.
APT_PACKAGES := rpm createrepo-c cpio libarchive-tools tar pigz zstd xz-utils bzip2 \
	patchelf dnf mmdebstrap bubblewrap uidmap procps python3 python3-venv tcl zsh dash dpkg-dev gcc libc6-dev make ca-certificates git

.PHONY: all prereqs bundle sources example demo test bench clean
all: bundle

prereqs:
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(APT_PACKAGES)

bundle:
	$(GO) build -trimpath -ldflags "-X main.version=$$(git describe --always --dirty 2>/dev/null || echo dev)" -o $(BIN) .

RECIPE ?= recipes/example.yaml
# Debian source packages holding the upstream tarballs of $(RECIPE), for
# machines that cannot reach the upstream sites.
DEBIAN_SOURCES ?= zlib bzip2 xz-utils libxml2

# Fill the source cache: upstream URLs first, Debian's source archive for
# whatever they could not give.
sources: bundle
	$(BIN) fetch $(RECIPE) || sh recipes/fill-source-cache.sh $(DEBIAN_SOURCES)
	$(BIN) fetch --offline $(RECIPE) >/dev/null

# The main job: build the example recipe into out/example.
example: prereqs sources
	$(BIN) build -o out/example $(RECIPE)

# The assemble stage alone: rpmbuild the demo package set (recipes/demo)
# into a local repository on the host, then assemble a bundle from it.
demo: prereqs bundle
	rm -rf $(OUT) && mkdir -p $(OUT)/repo
	rpmbuild --quiet --define "_topdir $(CURDIR)/$(OUT)/rpmbuild" --define "_sourcedir $(CURDIR)/recipes/demo" \
		--define "use_source_date_epoch_as_buildtime 1" --define "clamp_mtime_to_source_date_epoch 1" \
		-ba recipes/demo/demo.spec
	cp $(OUT)/rpmbuild/RPMS/*/*.rpm $(OUT)/repo/
	$(BIN) assemble --repo $(OUT)/repo --platform debian12-x86_64 --name demo --version 1.0 \
		--workdir $(OUT)/work -o $(OUT) demo

test: prereqs
	BUNDLE_REQUIRE_TOOLS=1 $(GO) test -timeout 80m ./...

bench: prereqs bundle
	bench/run.sh

clean:
	rm -rf bin out .bundle
