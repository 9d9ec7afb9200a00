package engine

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

type recipePatch struct {
	name string
	mode string // "spec" or "p1"
}

// firstPatchNumber is where recipe patches start numbering, far above what
// specs use.
const firstPatchNumber = 9000

var (
	tagLine     = regexp.MustCompile(`(?i)^(source|patch)[0-9]*\s*:`)
	sectionLine = regexp.MustCompile(`^%(package|description|prep|build|install|check|clean|files|changelog|pre|post|preun|postun|pretrans|posttrans|triggerin|triggerun|triggerpostun|verifyscript|conf|generate_buildrequires|sourcelist|patchlist)(\s|$)`)
	autoLine    = regexp.MustCompile(`^\s*%(autosetup|autopatch)\b`)
)

// applyPatches adds the recipe's patches to a spec, as recipes.Patch
// documents:
//   - "spec": a PatchN tag (N from 9000, recipe order) after the spec's last
//     Source or Patch tag, applied by the spec's own %autosetup/%autopatch;
//     a spec whose %prep uses neither is an error;
//   - "p1": a SourceN tag (N from 9000), applied at the very end of %prep
//     with patch -p1 --fuzz=0, so a patch that does not apply fails.
func applyPatches(spec []byte, patches []recipePatch) ([]byte, error) {
	if len(patches) == 0 {
		return spec, nil
	}
	lines := strings.SplitAfter(string(spec), "\n")
	lastTag, prep, prepEnd := -1, -1, -1
	hasAuto := false
	for i, l := range lines {
		t := strings.TrimRight(l, "\r\n")
		if prep < 0 && sectionLine.MatchString(t) && strings.HasPrefix(t, "%prep") {
			prep = i
			continue
		}
		if prep < 0 && tagLine.MatchString(strings.TrimSpace(t)) {
			lastTag = i
		}
		if prep >= 0 && prepEnd < 0 {
			if sectionLine.MatchString(t) {
				prepEnd = i
				continue
			}
			if autoLine.MatchString(t) {
				hasAuto = true
			}
		}
	}
	if prep < 0 {
		return nil, fmt.Errorf("no %%prep section to apply patches in")
	}
	if prepEnd < 0 {
		prepEnd = len(lines)
	}
	if lastTag < 0 {
		return nil, fmt.Errorf("no Source or Patch tag to add patches after")
	}
	var tags, apply bytes.Buffer
	for i, p := range patches {
		n := firstPatchNumber + i
		switch p.mode {
		case "spec":
			if !hasAuto {
				return nil, fmt.Errorf("patch %s (mode spec) needs %%autosetup or %%autopatch in %%prep, which this spec does not use: give it mode p1", p.name)
			}
			fmt.Fprintf(&tags, "Patch%d: %s\n", n, p.name)
		case "p1":
			fmt.Fprintf(&tags, "Source%d: %s\n", n, p.name)
			// %setup leaves the shell in the build subdirectory; when the
			// buildsubdir macro is known, go back there first in case the
			// spec's %prep moved elsewhere.
			fmt.Fprintf(&apply, "%%{?buildsubdir:cd \"%%{_builddir}/%%{buildsubdir}\"}\n%%{__patch} -p1 --fuzz=0 --no-backup-if-mismatch -s -i %%{SOURCE%d}\n", n)
		default:
			return nil, fmt.Errorf("patch %s: unknown mode %q (spec or p1)", p.name, p.mode)
		}
	}
	var out strings.Builder
	for i, l := range lines {
		if i == prepEnd && apply.Len() > 0 {
			if !strings.HasSuffix(out.String(), "\n") {
				out.WriteString("\n")
			}
			out.WriteString("# recipe patches (mode p1)\n")
			out.Write(apply.Bytes())
			out.WriteString("\n")
		}
		out.WriteString(l)
		if i == lastTag {
			if !strings.HasSuffix(l, "\n") {
				out.WriteString("\n")
			}
			out.Write(tags.Bytes())
		}
	}
	if prepEnd == len(lines) && apply.Len() > 0 {
		if !strings.HasSuffix(out.String(), "\n") {
			out.WriteString("\n")
		}
		out.WriteString("# recipe patches (mode p1)\n")
		out.Write(apply.Bytes())
	}
	return []byte(out.String()), nil
}
