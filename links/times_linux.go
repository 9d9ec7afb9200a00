package links

import (
	"fmt"
	"io/fs"
	"os"
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

// setTimes sets the times of name, an entry of the open directory dir,
// without following it when it is a symlink: utimensat(AT_SYMLINK_NOFOLLOW)
// relative to the directory. name "." is the directory itself.
func setTimes(dir *os.File, name string, t times) error {
	cname, err := syscall.BytePtrFromString(name)
	if err != nil {
		return fmt.Errorf("set times of %s: %w", name, err)
	}
	ts := [2]syscall.Timespec{syscall.NsecToTimespec(t.atime.UnixNano()), syscall.NsecToTimespec(t.mtime.UnixNano())}
	_, _, errno := syscall.Syscall6(syscall.SYS_UTIMENSAT, dir.Fd(), uintptr(unsafe.Pointer(cname)),
		uintptr(unsafe.Pointer(&ts[0])), uintptr(_AT_SYMLINK_NOFOLLOW), 0, 0)
	if errno != 0 {
		return fmt.Errorf("set times of %s: %w", name, errno)
	}
	return nil
}

// _AT_SYMLINK_NOFOLLOW is Linux's flag for the *at calls.
const _AT_SYMLINK_NOFOLLOW = 0x100
