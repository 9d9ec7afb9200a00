package links

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"syscall"
	"time"
	"unsafe"
)

// times are the access and modification times of a path.
type times struct{ atime, mtime time.Time }

// timesOf returns the times recorded in fi, an lstat result.
func timesOf(fi fs.FileInfo) times {
	t := times{atime: fi.ModTime(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		t.atime = time.Unix(st.Atim.Sec, st.Atim.Nsec)
	}
	return t
}

// ownerOf returns the owner recorded in fi, an lstat result.
func ownerOf(fi fs.FileInfo) (uid, gid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), int(st.Gid), true
}

// setTimes sets the times of the bundle path p without following it when it
// is a symlink: utimensat(AT_SYMLINK_NOFOLLOW) relative to its parent
// directory, which is opened through the root.
func setTimes(r *os.Root, p string, t times) error {
	dir, name := path.Dir(p), path.Base(p)
	if p == "/" {
		name = "."
	}
	d, err := r.Open(rootRel(dir))
	if err != nil {
		return fmt.Errorf("set times of %s: %w", p, err)
	}
	defer d.Close()
	cname, err := syscall.BytePtrFromString(name)
	if err != nil {
		return fmt.Errorf("set times of %s: %w", p, err)
	}
	ts := [2]syscall.Timespec{syscall.NsecToTimespec(t.atime.UnixNano()), syscall.NsecToTimespec(t.mtime.UnixNano())}
	_, _, errno := syscall.Syscall6(syscall.SYS_UTIMENSAT, d.Fd(), uintptr(unsafe.Pointer(cname)),
		uintptr(unsafe.Pointer(&ts[0])), uintptr(_AT_SYMLINK_NOFOLLOW), 0, 0)
	if errno != 0 {
		return fmt.Errorf("set times of %s: %w", p, errno)
	}
	return nil
}

// _AT_SYMLINK_NOFOLLOW is Linux's flag for the *at calls.
const _AT_SYMLINK_NOFOLLOW = 0x100
