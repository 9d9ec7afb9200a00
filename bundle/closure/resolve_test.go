package closure

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/rpm"
)

type resolveCase struct {
	name  string
	pkgs  []*rpm.Package
	opts  func(*Options) // changes to the defaults (test platform, Want: app)
	want  []string       // selected NEVRAs, in result order
	err   string         // substring of the expected error
	check func(t *testing.T, res *Result)
}

var resolveCases = []resolveCase{
	{
		name: "chain through a versioned require and a soname",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.x86_64", "R: libfoo >= 1.1", "R: libc.so.6()(64bit)"),
			mk("libfoo-1.2-1.x86_64", "R: libbar.so.2()(64bit)"),
			mk("libbar-2.0-3.x86_64", "P: libbar.so.2()(64bit)"),
			mk("unrelated-1-1.x86_64"),
		},
		want: []string{"app-1.0-1.x86_64", "libbar-2.0-3.x86_64", "libfoo-1.2-1.x86_64"},
		check: func(t *testing.T, res *Result) {
			if got := reasonOf(res, "libbar"); !reflect.DeepEqual(got, []Reason{{By: "libfoo-1.2-1.x86_64", Requires: "libbar.so.2()(64bit)"}}) {
				t.Errorf("libbar reasons = %+v", got)
			}
			if got := reasonOf(res, "libfoo"); !reflect.DeepEqual(got, []Reason{{By: "app-1.0-1.x86_64", Requires: "libfoo >= 1.1"}}) {
				t.Errorf("libfoo reasons = %+v", got)
			}
			if !res.Packages[0].Requested || res.Packages[1].Requested {
				t.Errorf("requested flags wrong: %+v", res.Packages)
			}
			if !reflect.DeepEqual(res.BaseProvided, []string{"libc.so.6()(64bit)"}) {
				t.Errorf("BaseProvided = %v", res.BaseProvided)
			}
		},
	},
	{
		name: "only the newest version of a name is a candidate",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.x86_64", "R: libfoo"),
			mk("libfoo-1.0-1.x86_64"), mk("libfoo-1.10-1.x86_64"), mk("libfoo-1.9-1.x86_64"),
		},
		want: []string{"app-1.0-1.x86_64", "libfoo-1.10-1.x86_64"},
	},
	{
		name: "an old version that alone satisfies a requirement is not taken",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.x86_64", "R: libfoo = 1.0"),
			mk("libfoo-1.0-1.x86_64"), mk("libfoo-2.0-1.x86_64"),
		},
		err: "app → libfoo = 1.0: only libfoo-1.0-1.x86_64 provides it, and only the newest version",
	},
	{
		name: "a version nothing provides is explained",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.x86_64", "R: libfoo >= 3"),
			mk("libfoo-2.0-1.x86_64"),
		},
		err: "libfoo >= 3: nothing provides a matching version: libfoo-2.0-1.x86_64 provides libfoo = 2.0-1",
	},
	{
		name: "epochs outrank versions",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.x86_64", "R: foo >= 5.0", "R: bar < 1:0"),
			mk("foo-1:1.0-1.x86_64"), mk("foo-4.0-1.x86_64"),
			mk("bar-9.0-1.x86_64"),
		},
		want: []string{"app-1.0-1.x86_64", "bar-9.0-1.x86_64", "foo-1:1.0-1.x86_64"},
	},
	{
		name: "file requires match file lists and file provides",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.noarch", "R: /usr/bin/python3", "R: /usr/libexec/helper", "R: /bin/sh"),
			mk("python3-3.9-1.x86_64", "F: /usr/bin/python3", "F: /usr/bin/python3.9"),
			mk("helper-1-1.noarch", "P: /usr/libexec/helper"),
		},
		want: []string{"app-1.0-1.noarch", "helper-1-1.noarch", "python3-3.9-1.x86_64"},
		check: func(t *testing.T, res *Result) {
			if !reflect.DeepEqual(res.BaseProvided, []string{"/bin/sh"}) {
				t.Errorf("BaseProvided = %v", res.BaseProvided)
			}
		},
	},
	{
		name: "foreign arches are never candidates",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.x86_64", "R: libfoo", "R: libbar"),
			mk("libfoo-1-1.i686"), mk("libfoo-1-1.x86_64"), mk("libfoo-2-1.i686"),
			mk("libbar-1-1.i686"),
		},
		err: "app → libbar: only libbar-1-1.i686 provides it, an arch test-x86_64 does not take (x86_64, noarch)",
	},
	{
		name: "x86_64 and noarch are both accepted; i686 is ignored",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.x86_64", "R: libfoo", "R: data"),
			mk("libfoo-1-1.i686"), mk("libfoo-1-1.x86_64"), mk("data-1-1.noarch"),
		},
		want: []string{"app-1.0-1.x86_64", "data-1-1.noarch", "libfoo-1-1.x86_64"},
	},
	{
		name: "the newest provider wins, then the name",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.x86_64", "R: mta", "R: editor"),
			mk("postfix-3.5-1.x86_64", "P: mta"), mk("sendmail-8.16-1.x86_64", "P: mta"),
			mk("vim-1.0-1.x86_64", "P: editor"), mk("emacs-1.0-1.x86_64", "P: editor"),
		},
		want: []string{"app-1.0-1.x86_64", "emacs-1.0-1.x86_64", "sendmail-8.16-1.x86_64"},
	},
	{
		name: "a provider already selected is preferred",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.x86_64", "R: postfix", "R: mta"),
			mk("postfix-3.5-1.x86_64", "P: mta"), mk("sendmail-8.16-1.x86_64", "P: mta"),
		},
		want: []string{"app-1.0-1.x86_64", "postfix-3.5-1.x86_64"},
		check: func(t *testing.T, res *Result) {
			want := []Reason{{By: "app-1.0-1.x86_64", Requires: "postfix"}, {By: "app-1.0-1.x86_64", Requires: "mta"}}
			if got := reasonOf(res, "postfix"); !reflect.DeepEqual(got, want) {
				t.Errorf("postfix reasons = %+v", got)
			}
		},
	},
	{
		name: "ignored capabilities are not followed",
		pkgs: []*rpm.Package{mk("app-1.0-1.noarch", "R: perl(Foo::Bar)", "R: perl(strict)", "R: python3")},
		opts: func(o *Options) { o.Ignore = []string{"perl(*)", "python3"} },
		want: []string{"app-1.0-1.noarch"},
		check: func(t *testing.T, res *Result) {
			if !reflect.DeepEqual(res.Ignored, []string{"perl(Foo::Bar)", "perl(strict)", "python3"}) {
				t.Errorf("Ignored = %v", res.Ignored)
			}
		},
	},
	{
		name: "the base stops the closure",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.x86_64", "R: libc.so.6(GLIBC_2.34)(64bit)", "R: glibc >= 2.34", "R: /usr/bin/env",
				"R: libcrypt.so.2()(64bit)", "R: bash", "R: rpmlib(PayloadIsZstd) <= 5.4.18-1"),
			mk("glibc-2.34-60.x86_64", "R: glibc-common", "P: libc.so.6()(64bit)"),
			mk("glibc-common-2.34-60.x86_64"),
			mk("libxcrypt-4.4-1.x86_64", "P: libcrypt.so.2()(64bit)"),
			mk("bash-5.1-1.x86_64", "R: libtinfo.so.6()(64bit)"),
		},
		want: []string{"app-1.0-1.x86_64"},
		check: func(t *testing.T, res *Result) {
			want := []string{"/usr/bin/env", "bash", "glibc", "libc.so.6(GLIBC_2.34)(64bit)", "libcrypt.so.2()(64bit)"}
			if !reflect.DeepEqual(res.BaseProvided, want) {
				t.Errorf("BaseProvided = %v", res.BaseProvided)
			}
		},
	},
	{
		name: "requesting a base package selects nothing",
		pkgs: []*rpm.Package{mk("bash-5.1-1.x86_64", "R: libtinfo.so.6()(64bit)")},
		opts: func(o *Options) { o.Want = []string{"bash"} },
		want: nil,
	},
	{
		name: "rich or: the first alternative that can be satisfied",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.noarch", "R: (plugin-a or plugin-b or plugin-c)"),
			mk("plugin-b-1-1.noarch"), mk("plugin-c-1-1.noarch"),
		},
		want: []string{"app-1.0-1.noarch", "plugin-b-1-1.noarch"},
		check: func(t *testing.T, res *Result) {
			if got := reasonOf(res, "plugin-b"); len(got) != 1 || got[0].Requires != "(plugin-a or plugin-b or plugin-c)" {
				t.Errorf("plugin-b reasons = %+v", got)
			}
		},
	},
	{
		name: "rich or: an alternative already selected is kept",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.noarch", "R: plugin-c", "R: (plugin-b or plugin-c)"),
			mk("plugin-b-1-1.noarch"), mk("plugin-c-1-1.noarch"),
		},
		want: []string{"app-1.0-1.noarch", "plugin-c-1-1.noarch"},
	},
	{
		name: "rich and, with versions inside",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.noarch", "R: (libfoo >= 2 and libbar)"),
			mk("libfoo-2-1.noarch"), mk("libbar-1-1.noarch"),
		},
		want: []string{"app-1.0-1.noarch", "libbar-1-1.noarch", "libfoo-2-1.noarch"},
	},
	{
		name: "rich if: the condition is false, nothing is needed",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.noarch", "R: (app-selinux if selinux-policy)"),
			mk("app-selinux-1-1.noarch"), mk("selinux-policy-1-1.noarch"),
		},
		want: []string{"app-1.0-1.noarch"},
	},
	{
		name: "rich if: a condition that becomes true later still applies",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.noarch", "R: (app-selinux if selinux-policy)", "R: tools"),
			mk("tools-1-1.noarch", "R: selinux-policy"),
			mk("app-selinux-1-1.noarch"), mk("selinux-policy-1-1.noarch"),
		},
		want: []string{"app-1.0-1.noarch", "app-selinux-1-1.noarch", "selinux-policy-1-1.noarch", "tools-1-1.noarch"},
	},
	{
		name: "rich if else, and unless",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.noarch", "R: (backend-mariadb if mariadb else backend-sqlite)", "R: (fallback unless mariadb)"),
			mk("backend-mariadb-1-1.noarch"), mk("backend-sqlite-1-1.noarch"), mk("mariadb-1-1.noarch"), mk("fallback-1-1.noarch"),
		},
		want: []string{"app-1.0-1.noarch", "backend-sqlite-1-1.noarch", "fallback-1-1.noarch"},
	},
	{
		name: "rich with and without need one package",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.noarch", "R: (python3dist(foo) with python3.11dist(foo))", "R: (libbar without libbar-legacy)"),
			mk("py39-foo-1-1.noarch", "P: python3dist(foo)"),
			mk("py311-foo-1-1.noarch", "P: python3dist(foo)", "P: python3.11dist(foo)"),
			mk("bar-legacy-5-1.noarch", "P: libbar", "P: libbar-legacy"),
			mk("bar-2-1.noarch", "P: libbar"),
		},
		want: []string{"app-1.0-1.noarch", "bar-2-1.noarch", "py311-foo-1-1.noarch"},
	},
	{
		name: "an unsatisfiable rich dependency names its parts",
		pkgs: []*rpm.Package{mk("app-1.0-1.noarch", "R: (plugin-a or plugin-b)")},
		err:  "app → (plugin-a or plugin-b): no alternative can be satisfied (plugin-a: nothing provides it; plugin-b: nothing provides it)",
	},
	{
		name: "errors list every unresolved capability with its chain",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.x86_64", "R: python3-libs", "R: missing-tool"),
			mk("python3-libs-3.9-1.x86_64", "R: libssl.so.3()(64bit)"),
		},
		err: "closure: 2 unresolved requirements (add the packages that provide them to the recipe, or list the capabilities under its ignores):\n" +
			"  app → missing-tool: nothing provides it\n" + // breadth first: app's own requirements come first
			"  app → python3-libs → libssl.so.3()(64bit): nothing provides it",
	},
	{
		name: "a requested name nothing provides",
		pkgs: []*rpm.Package{mk("app-1.0-1.x86_64")},
		opts: func(o *Options) { o.Want = []string{"app", "nosuch"} },
		err:  "requested nosuch: nothing provides it",
	},
	{
		name: "cycles terminate",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.noarch", "R: a"),
			mk("a-1-1.noarch", "R: b"), mk("b-1-1.noarch", "R: c"), mk("c-1-1.noarch", "R: a", "R: app"),
		},
		want: []string{"a-1-1.noarch", "app-1.0-1.noarch", "b-1-1.noarch", "c-1-1.noarch"},
		check: func(t *testing.T, res *Result) {
			want := []Reason{{By: "c-1-1.noarch", Requires: "app"}}
			if got := reasonOf(res, "app"); !reflect.DeepEqual(got, want) {
				t.Errorf("app reasons = %+v", got)
			}
		},
	},
	{
		name: "conflicts name both packages",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.noarch", "R: a", "R: b"),
			mk("a-1-1.noarch", "C: b < 2"), mk("b-1.5-1.noarch"),
		},
		err: "a-1-1.noarch conflicts with b-1.5-1.noarch (Conflicts: b < 2)",
	},
	{
		name: "a conflict that does not match",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.noarch", "R: a", "R: b", "C: app < 1.0"),
			mk("a-1-1.noarch", "C: b < 2", "C: /usr/bin/c"), mk("b-2-1.noarch"),
		},
		want: []string{"a-1-1.noarch", "app-1.0-1.noarch", "b-2-1.noarch"},
	},
	{
		name: "a selected package drops the one it obsoletes",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.noarch", "R: oldtool", "R: newtool"),
			mk("oldtool-1.0-1.noarch"),
			mk("newtool-0.5-1.noarch", "O: oldtool < 2", "P: oldtool = 2"),
		},
		want: []string{"app-1.0-1.noarch", "newtool-0.5-1.noarch"},
		check: func(t *testing.T, res *Result) {
			want := []Dropped{{NEVRA: "oldtool-1.0-1.noarch", By: "newtool-0.5-1.noarch", Obsoletes: "oldtool < 2"}}
			if !reflect.DeepEqual(res.Dropped, want) {
				t.Errorf("Dropped = %+v", res.Dropped)
			}
		},
	},
	{
		name: "a requested package that is obsoleted is replaced",
		pkgs: []*rpm.Package{
			mk("oldtool-1.0-1.noarch"),
			mk("newtool-0.5-1.noarch", "O: oldtool"),
		},
		opts: func(o *Options) { o.Want = []string{"oldtool", "newtool"} },
		want: []string{"newtool-0.5-1.noarch"},
		check: func(t *testing.T, res *Result) {
			want := []Reason{{Requires: "oldtool", Kind: "obsoletes"}}
			if got := reasonOf(res, "newtool"); !res.Packages[0].Requested || !reflect.DeepEqual(got, want) {
				t.Errorf("newtool requested %v reasons %+v", res.Packages[0].Requested, got)
			}
		},
	},
	{
		name: "weak dependencies are not followed by default",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.noarch", "Rec: docs", "Sug: extras"),
			mk("docs-1-1.noarch"), mk("extras-1-1.noarch"),
			mk("app-langpack-1-1.noarch", "Sup: app"),
		},
		want: []string{"app-1.0-1.noarch"},
	},
	{
		name: "weak dependencies when asked",
		pkgs: []*rpm.Package{
			mk("app-1.0-1.noarch", "Rec: docs", "Rec: nosuch", "Rec: (theme-x or theme-y)", "Sug: extras"),
			mk("docs-1-1.noarch"), mk("extras-1-1.noarch"), mk("theme-y-1-1.noarch"),
			mk("app-langpack-1-1.noarch", "Sup: (app and langpacks)"),
			mk("app-bash-completion-1-1.noarch", "Sup: (app and bash)"), // bash is the base, which does not count
			mk("app-doc-extra-1-1.noarch", "Sup: docs"),
		},
		opts: func(o *Options) { o.WeakDeps = true },
		want: []string{"app-1.0-1.noarch", "app-doc-extra-1-1.noarch", "docs-1-1.noarch", "theme-y-1-1.noarch"},
		check: func(t *testing.T, res *Result) {
			want := []Reason{{By: "docs-1-1.noarch", Requires: "docs", Kind: "supplements"}}
			if got := reasonOf(res, "app-doc-extra"); !reflect.DeepEqual(got, want) {
				t.Errorf("app-doc-extra reasons = %+v", got)
			}
		},
	},
	{
		name: "missing requirements reported with MissingOK",
		pkgs: []*rpm.Package{mk("app-1.0-1.noarch", "R: gcc", "R: (make or cmake)", "R: ok"), mk("ok-1-1.noarch")},
		opts: func(o *Options) { o.MissingOK = true },
		want: []string{"app-1.0-1.noarch", "ok-1-1.noarch"},
		check: func(t *testing.T, res *Result) {
			if len(res.Missing) != 2 || res.Missing[0].Capability != "gcc" || res.Missing[1].Capability != "(make or cmake)" ||
				!reflect.DeepEqual(res.Missing[0].Chain, []string{"app-1.0-1.noarch"}) {
				t.Errorf("Missing = %+v", res.Missing)
			}
		},
	},
	{
		name: "no Want: every binary package of the platform but the base",
		pkgs: []*rpm.Package{
			mk("a-1-1.x86_64"), mk("b-1-1.noarch"), mk("c-1-1.i686"), mk("a-1-1.src"), mk("glibc-2.34-1.x86_64"),
		},
		opts: func(o *Options) { o.Want = nil },
		want: []string{"a-1-1.x86_64", "b-1-1.noarch"},
	},
	{
		name: "Want entries that are capabilities",
		pkgs: []*rpm.Package{
			mk("python3-devel-3.9-1.x86_64", "P: python3-devel(x86-64)"), mk("gcc-11-1.x86_64", "F: /usr/bin/gcc"),
			mk("numpy-1.20-1.x86_64", "P: python3dist(numpy) = 1.20"),
		},
		opts: func(o *Options) {
			o.Want = []string{"/usr/bin/gcc", "python3-devel >= 3.6", "python3dist(numpy) >= 1.19", "(make or gcc)"}
		},
		want: []string{"gcc-11-1.x86_64", "numpy-1.20-1.x86_64", "python3-devel-3.9-1.x86_64"},
		check: func(t *testing.T, res *Result) {
			for _, s := range res.Packages {
				if !s.Requested {
					t.Errorf("%s not marked requested", s.Package.NEVRA())
				}
			}
		},
	},
	{
		name: "a package satisfying its own requirement gets no reason from itself",
		pkgs: []*rpm.Package{mk("app-1.0-1.x86_64", "R: libapp.so.1()(64bit)", "P: libapp.so.1()(64bit)", "R: /usr/bin/app", "F: /usr/bin/app")},
		want: []string{"app-1.0-1.x86_64"},
		check: func(t *testing.T, res *Result) {
			if got := res.Packages[0].Reasons; len(got) != 0 {
				t.Errorf("reasons = %+v", got)
			}
		},
	},
}

func TestResolve(t *testing.T) {
	for _, tc := range resolveCases {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Platform: testPlatform(), Want: []string{"app"}}
			if tc.opts != nil {
				tc.opts(&opts)
			}
			res, err := Resolve(context.Background(), tc.pkgs, opts)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := nevras(res); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("selected %q, want %q", got, tc.want)
			}
			if tc.check != nil {
				tc.check(t, res)
			}
		})
	}
}

func TestResolveErrorTypes(t *testing.T) {
	_, err := Resolve(context.Background(), []*rpm.Package{
		mk("app-1.0-1.x86_64", "R: mid"), mk("mid-1-1.x86_64", "R: lib"), mk("lib-1-1.x86_64", "R: libmissing.so.1()(64bit)"),
	}, Options{Platform: testPlatform(), Want: []string{"app"}})
	var ue *UnresolvedError
	if !errors.As(err, &ue) || len(ue.Missing) != 1 {
		t.Fatalf("error %v is not one *UnresolvedError", err)
	}
	u := ue.Missing[0]
	want := Unresolved{Capability: "libmissing.so.1()(64bit)", By: "lib-1-1.x86_64",
		Chain: []string{"app-1.0-1.x86_64", "mid-1-1.x86_64", "lib-1-1.x86_64"}, Problem: "nothing provides it"}
	if !reflect.DeepEqual(u, want) {
		t.Errorf("unresolved = %+v, want %+v", u, want)
	}
	if s := u.String(); s != "app → mid → lib → libmissing.so.1()(64bit): nothing provides it" {
		t.Errorf("String() = %q", s)
	}

	_, err = Resolve(context.Background(), []*rpm.Package{mk("app-1-1.noarch", "R: a", "C: a"), mk("a-1-1.noarch")},
		Options{Platform: testPlatform(), Want: []string{"app"}})
	var ce *ConflictError
	if !errors.As(err, &ce) || !reflect.DeepEqual(ce.Conflicts, []Conflict{{Package: "app-1-1.noarch", With: "a-1-1.noarch", Conflicts: "a"}}) {
		t.Errorf("error %v is not the expected *ConflictError", err)
	}
}

func TestResolveBadOptions(t *testing.T) {
	if _, err := Resolve(context.Background(), nil, Options{}); err == nil || !strings.Contains(err.Error(), "no platform") {
		t.Errorf("no platform: %v", err)
	}
	if _, err := Resolve(context.Background(), nil, Options{Platform: testPlatform(), Ignore: []string{"[x"}}); err == nil {
		t.Error("bad ignore pattern accepted")
	}
	if _, err := Resolve(context.Background(), nil, Options{Platform: testPlatform(), Want: []string{"a b c d"}}); err == nil {
		t.Error("malformed want accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Resolve(ctx, []*rpm.Package{mk("app-1-1.noarch")}, Options{Platform: testPlatform(), Want: []string{"app"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestResolveDeterministic resolves the same packages in many orders and
// expects byte-identical JSON.
func TestResolveDeterministic(t *testing.T) {
	pkgs := []*rpm.Package{
		mk("app-1.0-1.x86_64", "R: mta", "R: (a or b)", "R: lib", "Rec: docs"),
		mk("postfix-3-1.x86_64", "P: mta"), mk("exim-3-1.x86_64", "P: mta"),
		mk("a-1-1.noarch"), mk("b-1-1.noarch"),
		mk("lib-1-1.x86_64"), mk("lib-1-1.noarch"),
		mk("dup-1-1.x86_64"), mk("docs-1-1.noarch", "R: dup"),
	}
	dup := mk("dup-1-1.x86_64")
	dup.Path = "/other/dup-1-1.x86_64.rpm"
	pkgs = append(pkgs, dup)
	var first []byte
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 20; i++ {
		rng.Shuffle(len(pkgs), func(a, b int) { pkgs[a], pkgs[b] = pkgs[b], pkgs[a] })
		res, err := Resolve(context.Background(), pkgs, Options{Platform: testPlatform(), Want: []string{"app"}, WeakDeps: true})
		if err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = data
			if !strings.Contains(string(data), `"nevra":"exim-3-1.x86_64"`) || !strings.Contains(string(data), `"/other/dup-1-1.x86_64.rpm"`) {
				t.Errorf("unexpected choice: %s", data)
			}
		} else if string(data) != string(first) {
			t.Fatalf("order %d gives\n%s\nfirst gave\n%s", i, data, first)
		}
	}
}
