// Package browsercheck loads a page in a real browser — Debian's headless
// chromium, driven over the DevTools protocol — and reports what a person
// would meet: console errors and exceptions, every network request the
// page made, its text, whether it overflows a narrow window, and a
// screenshot. The tests of the build report use it; bundle itself never
// starts a browser.
//
// The browser runs with a fresh profile, no background networking, no
// QUIC, no component updates or sync, and a host resolver that resolves
// nothing, so a page that tried to reach out would fail and be reported.
package browsercheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Names are the executables tried, in order.
var Names = []string{"chromium", "chromium-browser", "google-chrome"}

// Find returns the browser's path, or an error naming what to install.
func Find() (string, error) {
	for _, n := range Names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no browser found (tried %s): apt-get install chromium", strings.Join(Names, ", "))
}

// Browser is one headless browser process.
type Browser struct {
	ctx     context.Context
	cancel  func()
	profile string
}

// Start starts the browser. Close stops it.
func Start(ctx context.Context) (*Browser, error) {
	exe, err := Find()
	if err != nil {
		return nil, err
	}
	profile, err := os.MkdirTemp("", "bundle-chromium-profile-")
	if err != nil {
		return nil, err
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,AutofillServerCommunication"),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("hide-scrollbars", true),
		// The trap: no host name resolves, so any request would fail.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND"),
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // chromium refuses to run as root otherwise
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	b := &Browser{ctx: bctx, profile: profile, cancel: func() { bcancel(); acancel(); os.RemoveAll(profile) }}
	if err := chromedp.Do(bctx); err != nil {
		b.cancel()
		return nil, fmt.Errorf("start %s: %w", exe, err)
	}
	return b, nil
}

// Close stops the browser and removes its profile.
func (b *Browser) Close() { b.cancel() }

// Options say how to load a page.
type Options struct {
	// Width and Height of the window (default 1280×900).
	Width, Height int64
	// NoScript disables JavaScript.
	NoScript bool
	// Media is the CSS media type to emulate ("print"; default screen).
	Media string
	// Timeout bounds the load and the checks (default one minute).
	Timeout time.Duration
}

// Page is a loaded page and what was seen while loading it.
type Page struct {
	URL string
	// Console are the console errors and warnings, uncaught exceptions and
	// browser log entries of level warning or error (Content-Security-
	// Policy violations among them), as "type: text".
	Console []string
	// Requests are the URLs the page asked for, besides itself.
	Requests []string
	// Text is the body's rendered text (innerText).
	Text string
	// Overflow is how many pixels the page is wider than the window.
	Overflow int
	// Screenshot is a PNG of the whole page.
	Screenshot []byte

	ctx    context.Context
	cancel func()
}

// Load opens the page at path (a local file) in a new tab.
func (b *Browser) Load(path string, o Options) (*Page, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if o.Width == 0 {
		o.Width, o.Height = 1280, 900
	}
	if o.Timeout == 0 {
		o.Timeout = time.Minute
	}
	p := &Page{URL: (&url.URL{Scheme: "file", Path: abs}).String()}
	var mu sync.Mutex
	record := func(list *[]string, s string) {
		mu.Lock()
		*list = append(*list, s)
		mu.Unlock()
	}
	tctx, tcancel := chromedp.NewContext(b.ctx, chromedp.WithListener(func(ev any) {
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if ev.Request != nil && ev.Request.URL != p.URL {
				record(&p.Requests, ev.Request.URL)
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, a := range ev.Args {
					if a.Value != nil {
						parts = append(parts, string(a.Value))
					} else {
						parts = append(parts, a.Description)
					}
				}
				record(&p.Console, string(ev.Type)+": "+strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			text := "exception"
			if d := ev.ExceptionDetails; d != nil {
				text += ": " + d.Text
				if d.Exception != nil {
					text += " " + d.Exception.Description
				}
			}
			record(&p.Console, text)
		case *cdplog.EventEntryAdded:
			if e := ev.Entry; e != nil && (e.Level == cdplog.EntryLevelError || e.Level == cdplog.EntryLevelWarning) {
				record(&p.Console, fmt.Sprintf("%s (%s): %s %s", e.Level, e.Source, e.Text, e.URL))
			}
		}
	}))
	p.ctx, p.cancel = tctx, tcancel
	setup := func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return chromedp.Void{}, err
		}
		if _, err := cdp.Call(ctx, t, cdplog.Enable, cdp.Empty{}); err != nil {
			return chromedp.Void{}, err
		}
		if _, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: o.Media}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: o.NoScript})
		return chromedp.Void{}, err
	}
	if err := chromedp.Do(tctx, setup); err != nil {
		p.Close()
		return nil, fmt.Errorf("open a tab: %w", err)
	}
	ctx, cancel := context.WithTimeout(tctx, o.Timeout)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(o.Width, o.Height),
		chromedp.Navigate(p.URL),
		chromedp.WaitReady(chromedp.CSS("body")),
	); err != nil {
		p.Close()
		return nil, fmt.Errorf("load %s: %w", p.URL, err)
	}
	if p.Text, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`)); err != nil {
		p.Close()
		return nil, fmt.Errorf("read %s: %w", p.URL, err)
	}
	if p.Overflow, err = chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - document.documentElement.clientWidth`)); err != nil {
		p.Close()
		return nil, fmt.Errorf("measure %s: %w", p.URL, err)
	}
	if p.Screenshot, err = chromedp.Run(ctx, chromedp.FullScreenshot(100)); err != nil {
		p.Close()
		return nil, fmt.Errorf("screenshot of %s: %w", p.URL, err)
	}
	// Let late events (a request started by a script, a CSP report)
	// arrive before they are read.
	chromedp.Do(ctx, chromedp.Sleep(200*time.Millisecond))
	mu.Lock()
	defer mu.Unlock()
	p.Console = append([]string(nil), p.Console...)
	p.Requests = append([]string(nil), p.Requests...)
	return p, nil
}

// Eval evaluates a JavaScript expression in the page and decodes its
// value into T.
func Eval[T any](p *Page, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr))
}

// Close closes the page's tab.
func (p *Page) Close() {
	if p.cancel != nil {
		p.cancel()
	}
}

// Colours decodes a PNG and returns how many distinct colours it has and
// the share of its pixels the most common colour covers (1 for a blank
// image).
func Colours(data []byte) (distinct int, top float64, err error) {
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return 0, 0, fmt.Errorf("decode screenshot: %w", err)
	}
	b := img.Bounds()
	if b.Empty() {
		return 0, 0, errors.New("empty screenshot")
	}
	count := map[[4]uint32]int{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			count[[4]uint32{r, g, bl, a}]++
		}
	}
	most := 0
	for _, n := range count {
		most = max(most, n)
	}
	return len(count), float64(most) / float64(b.Dx()*b.Dy()), nil
}

// Size returns a PNG's width and height.
func Size(data []byte) (image.Point, error) {
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return image.Point{}, err
	}
	return image.Point{X: cfg.Width, Y: cfg.Height}, nil
}
