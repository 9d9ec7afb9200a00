# The two set-up commands of README.md:
#   make bundle    the main job: install prerequisites, build bin/bundle, fill the source
#                  cache and the offline Python set, `bundle build` the embedded default recipe
#   make test      install prerequisites and run every test (unit, fuzz seeds, end to end)
GO      ?= go
BIN     := bin/bundle
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The cache directory, by bundle's rule (bundle/cachedir).
CACHE   ?= $(or $(BUNDLE_CACHE),$(if $(filter /%,$(XDG_CACHE_HOME)),$(XDG_CACHE_HOME)/bundle),$(HOME)/.cache/bundle)
export CGO_ENABLED := 0
# A fixed time makes the RPMs, and so the tarballs, reproducible.
export SOURCE_DATE_EPOCH ?= 1767225600

# Debian 12 packages bundle drives (rpm tools, createrepo_c, the sandbox
# builder's mmdebstrap and bubblewrap, patchelf) and what the tests compare
# with or run (bsdtar, cpio, dnf, shells, tclsh, python3-venv; chromium loads the build report;
# slurm-wlm and munge make the single-node Slurm cluster of the slurm executor's tests).
APT_PACKAGES := rpm createrepo-c cpio libarchive-tools tar pigz zstd xz-utils bzip2 \
	patchelf dnf mmdebstrap bubblewrap uidmap procps python3 python3-venv tcl zsh dash dpkg-dev \
	gcc libc6-dev make ca-certificates openssl git chromium slurm-wlm munge

# The Debian source packages holding the upstream tarballs of the default
# recipe, for machines that cannot reach the upstream sites.
DEBIAN_SOURCES := zlib bzip2 xz-utils libffi openssl sqlite3 ncurses readline expat libxml2 \
	libxcrypt gmp mpfr4 python3.11 gdb
# Python-3.11.2.tgz in the source cache: the offline Python set takes pip
# and setuptools from its ensurepip.
PYTHON_TARBALL := $(CACHE)/sources/sha256/24/2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849

.PHONY: all prereqs bin sources bundle example demo check unit test bench clean
all: bin

prereqs:
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(APT_PACKAGES)

bin:
	$(GO) build -trimpath -ldflags "-X main.version=$$(git describe --always --dirty 2>/dev/null || echo dev)" -o $(BIN) .

# Fill the caches: upstream URLs first, Debian's source archive for
# whatever they could not give; then the offline Python set.
sources: bin
	$(BIN) fetch || BUNDLE_CACHE=$(CACHE) sh recipes/fill-source-cache.sh $(DEBIAN_SOURCES)
	$(BIN) fetch --offline >/dev/null
	test -d $(CACHE)/python || sh recipes/gather-python-wheels.sh -p $(PYTHON_TARBALL) $(CACHE)/python

# The main job: the embedded default recipe into out/.
bundle: prereqs sources
	$(BIN) build -o out

# The example recipe (zlib, bzip2, xz, libxml2) into out/example.
example: prereqs bin
	$(BIN) fetch recipes/example.yaml || BUNDLE_CACHE=$(CACHE) sh recipes/fill-source-cache.sh zlib bzip2 xz-utils libxml2
	$(BIN) build -o out/example recipes/example.yaml

# The assemble stage alone: rpmbuild the demo package set (recipes/demo)
# into a local repository on the host, then assemble a bundle from it.
DEMO := out/demo
demo: prereqs bin
	rm -rf $(DEMO) && mkdir -p $(DEMO)/repo
	rpmbuild --quiet --define "_topdir $(CURDIR)/$(DEMO)/rpmbuild" --define "_sourcedir $(CURDIR)/recipes/demo" \
		--define "use_source_date_epoch_as_buildtime 1" --define "clamp_mtime_to_source_date_epoch 1" \
		-ba recipes/demo/demo.spec
	cp $(DEMO)/rpmbuild/RPMS/*/*.rpm $(DEMO)/repo/
	$(BIN) assemble --repo $(DEMO)/repo --platform debian12-x86_64 --name demo --version 1.0 \
		--workdir $(DEMO)/work -o $(DEMO) demo

# What CI checks before the tests: formatting, vet, a tidy go.mod, no
# function over 150 lines outside tests (internal/funclen).
# `duplicates` (only on some machines, never needed) lists what the
# uncommitted change repeats.
check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l: not formatted:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff
	$(GO) run ./internal/funclen
	@if command -v duplicates >/dev/null 2>&1; then duplicates --change; fi

# The package tests without apt-get and without the end-to-end tests of
# tests/ (they run the real binary, up to a whole reference build): a test
# whose tool is missing skips, unless BUNDLE_REQUIRE_TOOLS=1 is set.
unit:
	$(GO) test $$($(GO) list ./... | grep -v '/tests$$')

test: prereqs
	BUNDLE_REQUIRE_TOOLS=1 $(GO) test -timeout 85m ./...

bench: prereqs bin
	bench/run.sh

clean:
	rm -rf bin out .bundle
