package session

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"passkiosk/kiosk"
)

// defaultSharedDirs are the world-writable places a session outside a
// mount namespace can write to besides its workspace.
var defaultSharedDirs = []string{"/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue"}

// sweepOutside runs sweepShared into the report when uid is dedicated.
func sweepOutside(dirs []string, uid uint32, rep *kiosk.WipeReport) error {
	var r wipeResult
	err := sweepShared(dirs, uid, &r)
	rep.OutsideFiles = r.outside + r.files + r.dirs
	rep.OutsideBytes = r.outsideBytes + r.bytes
	return err
}

// sweepShared removes, from the shared world-writable folders, everything
// owned by uid: the traces a session left outside its workspace (a file
// in /tmp despite TMPDIR, a POSIX shared-memory segment in /dev/shm). It
// is only called for a dedicated uid, whose files are by definition the
// session's. A session can create entries only where it may write, so the
// walk descends only into world-writable folders of other owners; a
// folder owned by uid goes entirely. Every step works relative to
// O_NOFOLLOW directory descriptors, as in walkAt.
func sweepShared(dirs []string, uid uint32, r *wipeResult) error {
	var errs []error
	for _, d := range dirs {
		if err := sweepDir(unix.AT_FDCWD, d, uid, r, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func sweepDir(parent int, name string, uid uint32, r *wipeResult, depth int) error {
	if depth > 16 {
		return nil // a world-writable tree this deep is not a kiosk's
	}
	fd, err := unix.Openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	dir := os.NewFile(uintptr(fd), name)
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	var errs []error
	for _, n := range names {
		var st unix.Stat_t
		if unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
			continue
		}
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		switch {
		case st.Uid == uid && isDir:
			if err := walkAt(fd, n, r, true); err != nil {
				errs = append(errs, err)
				continue
			}
			if err := unix.Unlinkat(fd, n, unix.AT_REMOVEDIR); err != nil {
				errs = append(errs, fmt.Errorf("remove %s/%s: %w", name, n, err))
				continue
			}
			r.outside++
		case st.Uid == uid:
			if err := unix.Unlinkat(fd, n, 0); err != nil {
				errs = append(errs, fmt.Errorf("remove %s/%s: %w", name, n, err))
				continue
			}
			r.outside++
			if st.Mode&unix.S_IFMT == unix.S_IFREG {
				r.outsideBytes += st.Size
			}
		case isDir && st.Mode&0o002 != 0:
			if err := sweepDir(fd, n, uid, r, depth+1); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
