package diff

import (
	"fmt"
	"io"
	"strings"
)

// MaxFilesListed is how many paths of each kind (added, removed, changed)
// the text and markdown reports list; --json lists them all.
const MaxFilesListed = 100

// WriteText writes the report for people.
func (r *Result) WriteText(w io.Writer) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "old: %s\nnew: %s\n", describe(r.Old), describe(r.New))
	if r.Identical {
		b.WriteString("identical\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	p := r.Packages
	fmt.Fprintf(b, "packages: %d added, %d removed, %d changed\n", len(p.Added), len(p.Removed), len(p.Changed))
	for _, x := range p.Added {
		fmt.Fprintf(b, "  + %s  sha256 %s  %d bytes\n", x.NEVRA, x.SHA256, x.Size)
	}
	for _, x := range p.Removed {
		fmt.Fprintf(b, "  - %s  sha256 %s  %d bytes\n", x.NEVRA, x.SHA256, x.Size)
	}
	for _, x := range p.Changed {
		fmt.Fprintf(b, "  ~ %s: %s -> %s  sha256 %s -> %s  size %d -> %d (%s)\n", x.Name, x.Old.NEVRA, x.New.NEVRA,
			short(x.Old.SHA256), short(x.New.SHA256), x.Old.Size, x.New.Size, signed(x.New.Size-x.Old.Size))
	}
	py := r.Python
	if len(py.Added)+len(py.Removed)+len(py.Changed) > 0 {
		fmt.Fprintf(b, "python: %d added, %d removed, %d changed\n", len(py.Added), len(py.Removed), len(py.Changed))
		for _, x := range py.Added {
			fmt.Fprintf(b, "  + %s\n", pin(x))
		}
		for _, x := range py.Removed {
			fmt.Fprintf(b, "  - %s\n", pin(x))
		}
		for _, x := range py.Changed {
			fmt.Fprintf(b, "  ~ %s -> %s\n", pin(x.Old), pin(x.New))
		}
	}
	if f := r.Files; f != nil {
		fmt.Fprintf(b, "files: %d added, %d removed, %d changed, %d unchanged\n", len(f.Added), len(f.Removed), len(f.Changed), f.Unchanged)
		for _, l := range []struct {
			mark string
			list []FileChange
		}{{"+", f.Added}, {"-", f.Removed}, {"~", f.Changed}} {
			for i, c := range l.list {
				if i == MaxFilesListed {
					fmt.Fprintf(b, "  %s ... %d more (--json lists all)\n", l.mark, len(l.list)-i)
					break
				}
				fmt.Fprintf(b, "  %s %s%s\n", l.mark, c.Path, fileNote(c))
			}
		}
	} else {
		b.WriteString("files: not compared (a side was given as a manifest)\n")
	}
	s := r.Sizes
	fmt.Fprintf(b, "total size: %d -> %d bytes (%s); tarball: %d -> %d bytes (%s)\n",
		s.OldTotal, s.NewTotal, signed(s.NewTotal-s.OldTotal), s.OldTarball, s.NewTarball, signed(s.NewTarball-s.OldTarball))
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes the report as release notes.
func (r *Result) WriteMarkdown(w io.Writer) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "# %s %s (%s)\n\n", r.New.Name, r.New.Version, r.New.Platform)
	fmt.Fprintf(b, "Changes from `%s` (sha256 `%s`) to `%s` (sha256 `%s`).\n\n",
		r.Old.Tarball, short(r.Old.SHA256), r.New.Tarball, short(r.New.SHA256))
	if r.Identical {
		b.WriteString("No change.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	p := r.Packages
	fmt.Fprintf(b, "## Packages\n\n%d added, %d removed, %d changed.\n\n", len(p.Added), len(p.Removed), len(p.Changed))
	if len(p.Added)+len(p.Removed)+len(p.Changed) > 0 {
		b.WriteString("| | package | old | new | size change |\n|---|---|---|---|---|\n")
		for _, x := range p.Added {
			fmt.Fprintf(b, "| added | %s | | %s | %s |\n", md(x.Name), md(x.NEVRA), signed(x.Size))
		}
		for _, x := range p.Removed {
			fmt.Fprintf(b, "| removed | %s | %s | | %s |\n", md(x.Name), md(x.NEVRA), signed(-x.Size))
		}
		for _, x := range p.Changed {
			fmt.Fprintf(b, "| changed | %s | %s | %s | %s |\n", md(x.Name), md(x.Old.NEVRA), md(x.New.NEVRA), signed(x.New.Size-x.Old.Size))
		}
		b.WriteString("\n")
	}
	py := r.Python
	if len(py.Added)+len(py.Removed)+len(py.Changed) > 0 {
		b.WriteString("## Python packages\n\n")
		for _, x := range py.Added {
			fmt.Fprintf(b, "- added %s\n", md(pin(x)))
		}
		for _, x := range py.Removed {
			fmt.Fprintf(b, "- removed %s\n", md(pin(x)))
		}
		for _, x := range py.Changed {
			fmt.Fprintf(b, "- %s → %s\n", md(pin(x.Old)), md(pin(x.New)))
		}
		b.WriteString("\n")
	}
	if f := r.Files; f != nil {
		fmt.Fprintf(b, "## Files\n\n%d added, %d removed, %d changed, %d unchanged.\n",
			len(f.Added), len(f.Removed), len(f.Changed), f.Unchanged)
		for _, l := range []struct {
			title string
			list  []FileChange
		}{{"Added", f.Added}, {"Removed", f.Removed}, {"Changed", f.Changed}} {
			if len(l.list) == 0 {
				continue
			}
			fmt.Fprintf(b, "\n<details><summary>%s (%d)</summary>\n\n", l.title, len(l.list))
			for i, c := range l.list {
				if i == MaxFilesListed {
					fmt.Fprintf(b, "- … %d more\n", len(l.list)-i)
					break
				}
				fmt.Fprintf(b, "- `%s`%s\n", c.Path, fileNote(c))
			}
			b.WriteString("\n</details>\n")
		}
		b.WriteString("\n")
	}
	s := r.Sizes
	fmt.Fprintf(b, "## Size\n\nInstalled: %d → %d bytes (%s). Tarball: %d → %d bytes (%s).\n",
		s.OldTotal, s.NewTotal, signed(s.NewTotal-s.OldTotal), s.OldTarball, s.NewTarball, signed(s.NewTarball-s.OldTarball))
	_, err := io.WriteString(w, b.String())
	return err
}

func describe(s Side) string {
	return fmt.Sprintf("%s %s %s (%s, sha256 %s)", s.Name, s.Version, s.Platform, s.Path, short(s.SHA256))
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func pin(p Pin) string {
	if p.URL != "" {
		return p.Name + " @ " + p.URL
	}
	return p.Name + "==" + p.Version
}

func fileNote(c FileChange) string {
	switch {
	case c.Old != nil && c.New != nil && c.Old.Type != c.New.Type:
		return fmt.Sprintf(" (%s -> %s)", c.Old.Type, c.New.Type)
	case c.Old != nil && c.New != nil && c.Old.Digest == c.New.Digest && c.Old.Mode != c.New.Mode:
		return fmt.Sprintf(" (mode %o -> %o)", c.Old.Mode, c.New.Mode)
	case c.Old != nil && c.New != nil && c.New.Type == "file":
		return fmt.Sprintf(" (%d -> %d bytes)", c.Old.Size, c.New.Size)
	}
	return ""
}

// md escapes what would break a markdown table cell.
func md(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
