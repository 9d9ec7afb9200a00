package htmlreport

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bundle-dev/bundle/bundle/schedule"
	"github.com/bundle-dev/bundle/bundle/testenv"
)

// golden compares got with testdata/NAME.golden (rewritten with -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, filepath.Join("testdata", name+".golden"), got)
}

// TestRenderGolden renders the fixed reports: the pages are byte for
// byte the golden ones (testdata/*.html.golden, made with -update and
// read in a browser).
func TestRenderGolden(t *testing.T) {
	for name, r := range map[string]*Report{
		"failed": failedReport(), "succeeded": succeededReport(), "running": runningReport(), "slurm": slurmReport(),
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Render(&b, r, r.Updated); err != nil {
				t.Fatal(err)
			}
			golden(t, name+".html", b.Bytes())
		})
	}
}

// TestRenderContent checks what a reader must find on each page,
// independently of the golden files.
func TestRenderContent(t *testing.T) {
	tests := []struct {
		name    string
		r       *Report
		want    []string
		notWant []string
	}{
		{"failed", failedReport(), []string{
			`class="badge st-failed">failed<`,
			`id="fail-libxml2"`,
			"make: *** [Makefile:1024: all] Error 2",
			"&lt;script&gt;alert(1)&lt;/script&gt;", // log text is escaped
			"Full log: <code class=\"path\">/w/logs/libxml2/build.log</code>",
			"libxml2 failed", // lxml's why
			"Finished in an earlier run (not run again): hello",
			"cache hit",
			"dependency zlib rebuilt",
			`title="sha256:zlib0123456789abcdef">sha256:zlib0`,
			"Parallel gain</dt><dd>2.0×",
			"No previous build is known",
		}, []string{`http-equiv="refresh"`, "<script>alert(1)", `id="sizes"`, `id="test"`}},
		{"succeeded", succeededReport(), []string{
			`class="badge st-succeeded">succeeded<`,
			"Needs glibc</dt><dd>&gt;= 2.31", "Runs on</dt><dd>Debian 11, EL9",
			"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			`<th scope="row">requests</th><td class="mono">2.28.1</td>`,
			`id="sizes"`, `data-sort="41000000">39.1 MiB`,
			"bundle test</dt><dd>passed (3 checks)",
			"+ lxml-4.9.2-1.x86_64", "unpacked size -2.0 KiB",
			"<li>assemble: 2 inputs changed since the last assembly (key 0123456789ab); package zlib: 1.2.13-1 → 1.2.13-2</li>",
		}, []string{`id="failures"`, `http-equiv="refresh"`}},
		{"slurm", slurmReport(), []string{
			"One lane per Slurm job", `<text class="lane-label" x="4" y="22" dy="17">job 1001</text>`,
			`title="Slurm's state of job 1005">COMPLETED<`, "job 1007</td>",
		}, []string{"worker 1"}},
		{"failed before the plan", &Report{FormatVersion: FormatVersion, Name: "x", Status: Failed, Started: t0, Updated: at(3), Finished: at(3),
			Error: "package zlib: fetch https://example.org/zlib.tar.gz: sha256 mismatch"}, []string{
			`badge st-failed`, "No plan was made: the build stopped before.", "fetch https://example.org/zlib.tar.gz: sha256 mismatch",
		}, []string{`http-equiv="refresh"`, `<svg`}},
		{"running", runningReport(), []string{
			`http-equiv="refresh" content="5"`, "The build is running",
			`class="now"`, "2 building, 2 waiting",
		}, []string{`id="failures"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Render(&b, tc.r, tc.r.Updated); err != nil {
				t.Fatal(err)
			}
			page := b.String()
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(page, w) {
					t.Errorf("page has %q", w)
				}
			}
			for _, n := range tc.r.Nodes {
				if !strings.Contains(page, `id="pkg-`+n.Name+`"`) {
					t.Errorf("package %s has no row", n.Name)
				}
			}
			selfContained(t, page)
		})
	}
}

// selfContained fails on anything that could make a browser fetch.
func selfContained(t *testing.T, page string) {
	t.Helper()
	attr := regexp.MustCompile(`(?i)\s(src|href|xlink:href|action|srcset|poster|data)\s*=\s*"([^"]*)"`)
	for _, m := range attr.FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(m[2], "#") {
			t.Errorf("external reference %s=%q", m[1], m[2])
		}
	}
	if m := regexp.MustCompile(`url\((['"]?)([^#)][^)]*)\)`).FindString(page); m != "" {
		t.Errorf("CSS fetches %s", m)
	}
	if strings.Contains(page, "@import") {
		t.Error("CSS @import")
	}
}

func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.json")
	r := succeededReport()
	if err := r.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(r)
	b, _ := json.Marshal(got)
	if !bytes.Equal(a, b) {
		t.Errorf("round trip differs:\n%s\n%s", a, b)
	}
	os.WriteFile(path, []byte(`{"format_version": 99}`), 0o644)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "format version 99") {
		t.Errorf("want a format version error, got %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Error("want an error for a missing file")
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "x.report.html")
	r := runningReport()
	for range 2 {
		if err := Write(path, r, r.Updated); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil || !bytes.HasSuffix(data, []byte("</html>\n")) {
		t.Fatalf("page not complete: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "sub", ".*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestAssignLanes(t *testing.T) {
	iv := func(name string, s, e float64) interval {
		return interval{node: &Node{NodeResult: schedule.NodeResult{Name: name}}, start: at(s), end: at(e)}
	}
	job := func(i interval, id string) interval { i.node.JobID = id; return i }
	tests := []struct {
		name  string
		ivs   []interval
		lanes []int
		n     int
	}{
		{"serial", []interval{iv("a", 0, 10), iv("b", 10, 20), iv("c", 20, 30)}, []int{0, 0, 0}, 1},
		{"two at once", []interval{iv("a", 0, 10), iv("b", 1, 5), iv("c", 5, 12), iv("d", 10, 11)}, []int{0, 1, 1, 0}, 2},
		{"three at once", []interval{iv("a", 0, 10), iv("b", 0, 10), iv("c", 0, 10), iv("d", 10, 11)}, []int{0, 1, 2, 0}, 3},
		{"none", nil, nil, 0},
		{"slurm jobs beside local work", []interval{iv("a", 0, 10), job(iv("b", 0, 10), "7"), job(iv("c", 10, 20), "8"), iv("d", 10, 11)}, []int{0, 1, 2, 0}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lanes, labels := assignLanes(tc.ivs)
			if !slices.Equal(lanes, tc.lanes) || len(labels) != tc.n {
				t.Errorf("lanes %v (%d labels), want %v (%d)", lanes, len(labels), tc.lanes, tc.n)
			}
		})
	}
}

func TestCriticalPath(t *testing.T) {
	tests := []struct {
		name  string
		r     *Report
		want  []string
		dur   time.Duration
		inRun bool
	}{
		// libxml2 waits for xz (32 s) and zlib (33 s): the path goes
		// through zlib.
		{"failed run", failedReport(), []string{"python3", "zlib", "libxml2"}, secs(60 + 33 + 21), true},
		{"succeeded run", succeededReport(), []string{"python3", "zlib", "libxml2", "lxml"}, secs(60 + 33 + 70 + 2), true},
		{"nothing ran: the plan's", func() *Report {
			r := failedReport()
			for i := range r.Nodes {
				r.Nodes[i].Duration = 0
			}
			r.Plan.CriticalPathSeconds = 42
			return r
		}(), []string{"python3", "zlib", "libxml2", "lxml"}, secs(42), false},
		// zlib has built for 18 s, xz for 17 s at +80 s.
		{"running", runningReport(), []string{"python3", "zlib"}, secs(60 + 18), true},
		{"no plan", &Report{}, nil, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, d, inRun := tc.r.criticalPath(tc.r.Updated)
			if !slices.Equal(got, tc.want) || d != tc.dur || inRun != tc.inRun {
				t.Errorf("got %v %v %v, want %v %v %v", got, d, inRun, tc.want, tc.dur, tc.inRun)
			}
		})
	}
}

func TestLayoutDAG(t *testing.T) {
	r := failedReport()
	d := r.layoutDAG([]string{"python3", "zlib", "libxml2"})
	if len(d.Nodes) != 7 {
		t.Fatalf("%d nodes, want 7", len(d.Nodes))
	}
	byName := map[string]dagNode{}
	for _, n := range d.Nodes {
		byName[n.Name] = n
		if n.X < 0 || n.Y < 0 || n.X+n.W > d.Width || n.Y+n.H > d.Height {
			t.Errorf("%s at %d,%d outside %dx%d", n.Name, n.X, n.Y, d.Width, d.Height)
		}
	}
	// Every dependency is left of its dependent.
	for _, pn := range r.Plan.Nodes {
		for _, dp := range pn.Deps {
			if byName[dp.Node].X >= byName[pn.Name].X {
				t.Errorf("%s is not left of %s", dp.Node, pn.Name)
			}
		}
	}
	// No two nodes overlap.
	for i, a := range d.Nodes {
		for _, b := range d.Nodes[i+1:] {
			if a.X == b.X && a.Y < b.Y+b.H && b.Y < a.Y+a.H {
				t.Errorf("%s and %s overlap", a.Name, b.Name)
			}
		}
	}
	var crit int
	for _, e := range d.Edges {
		if e.Critical {
			crit++
		}
	}
	if crit != 2 || !byName["zlib"].Critical || byName["xz"].Critical {
		t.Errorf("critical path: %d edges, zlib %v, xz %v", crit, byName["zlib"].Critical, byName["xz"].Critical)
	}
	if len(d.Edges) != 8 {
		t.Errorf("%d edges, want 8", len(d.Edges))
	}
	if byName["libxml2"].State != schedule.Failed || byName["lxml"].State != schedule.Skipped {
		t.Errorf("states: %v %v", byName["libxml2"].State, byName["lxml"].State)
	}
}

func TestTickStep(t *testing.T) {
	for _, tc := range []struct{ span, want time.Duration }{
		{secs(5), time.Second}, {secs(10), time.Second}, {secs(11), 2 * time.Second},
		{time.Minute, 10 * time.Second}, {20 * time.Minute, 2 * time.Minute}, {10 * time.Hour, time.Hour},
	} {
		if got := tickStep(tc.span); got != tc.want {
			t.Errorf("tickStep(%v) = %v, want %v", tc.span, got, tc.want)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 5 << 20: "5.0 MiB", -2048: "-2.0 KiB", 3 << 40: "3.0 TiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// FuzzRender: any report JSON either fails to parse or renders without
// panicking.
func FuzzRender(f *testing.F) {
	for _, r := range []*Report{failedReport(), succeededReport(), runningReport(), {FormatVersion: FormatVersion}} {
		data, _ := json.Marshal(r)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := Render(&b, r, r.Updated); err != nil {
			t.Fatal(err)
		}
	})
}
