package publish

import (
	"bytes"
	"fmt"
	"html/template"
	"time"
)

var indexTemplate = template.Must(template.New("index").Funcs(template.FuncMap{
	"date": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"mib":  func(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{{.Channel}} bundles</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}code{font-size:.85em}</style>
</head>
<body>
<h1>{{.Channel}} bundles</h1>
{{if .Latest}}<p>Latest: <a href="latest/">{{.Latest}}</a>. Fetch <code>latest/TARBALL</code> and <code>latest/TARBALL.sha256</code>, then check with <code>sha256sum -c TARBALL.sha256</code>. Machine-readable: <a href="index.json">index.json</a>.</p>{{else}}<p>No entry yet.</p>{{end}}
<table>
<tr><th>entry</th><th>published</th><th>tarball</th><th>size</th><th>sha256</th><th>changes (release notes)</th></tr>
{{range .Entries}}<tr><td><a href="{{.ID}}/">{{.ID}}</a></td><td>{{date .Published}}</td><td><a href="{{.ID}}/{{.Tarball}}">{{.Tarball}}</a></td><td>{{mib .Size}}</td><td><code>{{.SHA256}}</code></td><td><a href="{{.ID}}/{{.Notes}}">{{.Changes}}</a></td></tr>
{{end}}</table>
</body>
</html>
`))

// indexHTML renders the channel's index for people.
func indexHTML(idx Index) ([]byte, error) {
	var b bytes.Buffer
	if err := indexTemplate.Execute(&b, idx); err != nil {
		return nil, fmt.Errorf("publish: index.html: %w", err)
	}
	return b.Bytes(), nil
}
