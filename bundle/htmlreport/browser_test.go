package htmlreport

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bundle-dev/bundle/bundle/htmlreport/browsercheck"
	"github.com/bundle-dev/bundle/bundle/testenv"
)

// startBrowser starts headless chromium, or skips (fails in CI, where
// BUNDLE_REQUIRE_TOOLS=1) when it is not installed.
func startBrowser(t *testing.T) *browsercheck.Browser {
	t.Helper()
	if _, err := browsercheck.Find(); err != nil {
		testenv.Skipf(t, "%v", err)
	}
	b, err := browsercheck.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// TestBrowser loads the fixed reports in chromium: no console error, no
// request, every package and the failure's log tail on the page, a
// screenshot that is not blank, no horizontal overflow in a narrow window,
// the tables there without JavaScript, the script's sorting working, and
// the print style in force on paper.
func TestBrowser(t *testing.T) {
	b := startBrowser(t)
	dir := t.TempDir()
	for name, r := range map[string]*Report{"failed": failedReport(), "succeeded": succeededReport(), "running": runningReport(), "slurm": slurmReport()} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".report.html")
			if err := Write(path, r, r.Updated); err != nil {
				t.Fatal(err)
			}
			p, err := b.Load(path, browsercheck.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			checkPage(t, p, r)
			if n, err := browsercheck.Eval[int](p, `document.querySelectorAll("table.packages tbody tr").length`); err != nil || n != len(r.Nodes) {
				t.Errorf("package table: %d rows (%v), want %d", n, err, len(r.Nodes))
			}
			// The script sorts by a click on a column head: by name,
			// descending after two clicks.
			order, err := browsercheck.Eval[string](p, `(function(){
				var th = document.querySelector("table.packages thead th");
				th.click(); th.click();
				return th.getAttribute("aria-sort") + ":" + Array.prototype.map.call(
					document.querySelectorAll("table.packages tbody th"), function(c){ return c.textContent }).join(",");
			})()`)
			if err != nil || !strings.HasPrefix(order, "descending:zlib,xz,") {
				t.Errorf("sorting by name: %q, %v", order, err)
			}
			if has, err := browsercheck.Eval[bool](p, `document.querySelector("input.filter") !== null`); err != nil || !has {
				t.Errorf("no filter box: %v", err)
			}

			narrow, err := b.Load(path, browsercheck.Options{Width: 380, Height: 800})
			if err != nil {
				t.Fatal(err)
			}
			defer narrow.Close()
			if narrow.Overflow > 0 {
				t.Errorf("the page is %d px wider than a 380 px window", narrow.Overflow)
			}
			checkPage(t, narrow, r)

			nojs, err := b.Load(path, browsercheck.Options{NoScript: true})
			if err != nil {
				t.Fatal(err)
			}
			defer nojs.Close()
			checkPage(t, nojs, r)
			if strings.Contains(nojs.Text, "Filter packages") {
				t.Error("the filter box is there without JavaScript")
			}

			// On paper: no navigation, no scroll boxes, logs in full.
			paper, err := b.Load(path, browsercheck.Options{Media: "print"})
			if err != nil {
				t.Fatal(err)
			}
			defer paper.Close()
			checkPage(t, paper, r)
			style, err := browsercheck.Eval[string](paper, `[getComputedStyle(document.querySelector("nav")).display,
				getComputedStyle(document.querySelector(".scroll")).overflowX].join(" ")`)
			if err != nil || style != "none visible" {
				t.Errorf("print style: nav and .scroll are %q (%v), want none visible", style, err)
			}
		})
	}
}

// checkPage holds for every page of a report.
func checkPage(t *testing.T, p *browsercheck.Page, r *Report) {
	t.Helper()
	if len(p.Console) > 0 {
		t.Errorf("console messages:\n%s", strings.Join(p.Console, "\n"))
	}
	if len(p.Requests) > 0 {
		t.Errorf("network requests: %v", p.Requests)
	}
	for _, n := range r.Nodes {
		if !strings.Contains(p.Text, n.Name) {
			t.Errorf("package %s is not on the page", n.Name)
		}
		if n.State == "failed" {
			for _, l := range strings.Split(n.LogTail, "\n") {
				if !strings.Contains(p.Text, l) {
					t.Errorf("log tail line %q of %s is not on the page", l, n.Name)
				}
			}
		}
	}
	distinct, top, err := browsercheck.Colours(p.Screenshot)
	if err != nil {
		t.Fatal(err)
	}
	if distinct < 16 || top > 0.97 {
		t.Errorf("screenshot looks blank: %d colours, the commonest covers %.1f%%", distinct, top*100)
	}
}
