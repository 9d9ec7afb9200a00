package mockrun

import (
	"regexp"
	"strings"
)

// StateLog is what mock's state.log says about a run: the stages started
// and finished, in order.
type StateLog struct {
	// Stages in the order they started; Done reports whether each
	// finished.
	Stages []Stage
	// RpmbuildStarted is true once the build itself ran: BuildRequires
	// were installed, so a failure from here on is in build.log.
	RpmbuildStarted bool
	// RpmbuildFinished is true when rpmbuild ended.
	RpmbuildFinished bool
}

// Stage is one "Start: X" ... "Finish: X" pair of state.log.
type Stage struct {
	Name string // "chroot init", "build setup for foo-1-1.src.rpm", "rpmbuild foo-1-1.src.rpm"
	Tag  string // "bootstrap" for "Start(bootstrap): ..."
	Done bool
}

// ParseStateLog reads mock's state.log ("2024-01-16 22:45:40,271 - Start:
// rpmbuild foo.src.rpm", also without the time stamp). Lines it does not
// understand are skipped: the log is advisory.
func ParseStateLog(text string) StateLog {
	var s StateLog
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(strings.TrimRight(line, "\r"))
		if i := strings.Index(line, " - "); i >= 0 && !strings.HasPrefix(line, "Start") && !strings.HasPrefix(line, "Finish") {
			line = line[i+3:]
		}
		var start bool
		switch {
		case strings.HasPrefix(line, "Start"):
			start, line = true, line[len("Start"):]
		case strings.HasPrefix(line, "Finish"):
			line = line[len("Finish"):]
		default:
			continue
		}
		tag := ""
		if strings.HasPrefix(line, "(") {
			end := strings.Index(line, ")")
			if end < 0 {
				continue
			}
			tag, line = line[1:end], line[end+1:]
		}
		if !strings.HasPrefix(line, ": ") {
			continue
		}
		name := strings.TrimSpace(line[2:])
		if name == "" {
			continue
		}
		isRpmbuild := name == "rpmbuild" || strings.HasPrefix(name, "rpmbuild ")
		if start {
			s.Stages = append(s.Stages, Stage{Name: name, Tag: tag})
			if isRpmbuild && tag == "" {
				s.RpmbuildStarted = true
			}
			continue
		}
		for i := len(s.Stages) - 1; i >= 0; i-- {
			if st := &s.Stages[i]; !st.Done && st.Name == name && st.Tag == tag {
				st.Done = true
				break
			}
		}
		if isRpmbuild && tag == "" {
			s.RpmbuildFinished = true
		}
	}
	return s
}

// Failed names the innermost stage that started and did not finish, the
// one a failed run stopped in ("" when every stage finished).
func (s StateLog) Failed() string {
	for i := len(s.Stages) - 1; i >= 0; i-- {
		if st := s.Stages[i]; !st.Done {
			if st.Tag != "" {
				return st.Name + " (" + st.Tag + ")"
			}
			return st.Name
		}
	}
	return ""
}

// badExit matches rpmbuild's report of a failed build section.
var badExit = regexp.MustCompile(`Bad exit status from \S+ \((%[a-z_]+)\)`)

// rpmbuildStage names the spec section rpmbuild's output says failed
// ("%build"), the last one reported, or "".
func rpmbuildStage(out string) string {
	m := badExit.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1][1]
}
