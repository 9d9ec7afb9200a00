package schedule

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// LockFile is the name of the lock file in the work directory.
const LockFile = "lock"

// Lock takes the work directory's lock: an exclusive flock on
// WORKDIR/lock, which then holds the caller's pid. A second run gets an
// error naming the holder's pid. The kernel releases a flock when its
// holder dies, so the lock of a killed run is simply taken over (the pid
// it left in the file is logged to log, nil meaning slog.Default()). unlock
// releases the lock; calling it more than once is harmless. The work
// directory is created if needed.
func Lock(workdir string, log *slog.Logger) (unlock func(), err error) {
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(workdir, 0o755); err != nil {
		return nil, fmt.Errorf("lock work directory: %w", err)
	}
	path := filepath.Join(workdir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock work directory: %w", err)
	}
	fd := int(f.Fd())
	for {
		err = syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	prev := readPid(f)
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			switch {
			case prev == 0:
				return nil, fmt.Errorf("work directory %s is in use by another bundle run (lock %s held, no pid recorded yet); wait for it or use another work directory", workdir, path)
			case !alive(prev):
				return nil, fmt.Errorf("work directory %s is locked: %s names pid %d, which is gone, but a process it started still holds the lock (see `fuser %s`); stop that process", workdir, path, prev, path)
			}
			return nil, fmt.Errorf("work directory %s is in use by bundle pid %d (lock %s); wait for it to finish, stop it, or use another work directory", workdir, prev, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if prev != 0 && prev != os.Getpid() {
		log.Info("taking over the lock of a run that ended", "lock", path, "pid", prev)
	}
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt(pid, 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: write pid: %w", path, err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = f.Truncate(0)
			_ = syscall.Flock(fd, syscall.LOCK_UN)
			f.Close()
		})
	}, nil
}

// readPid returns the pid recorded in the lock file, or 0.
func readPid(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
