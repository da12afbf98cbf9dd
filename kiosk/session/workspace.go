package session

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// reachable checks that uid:gid may search every folder from / down to
// dir: otherwise the session program could not reach its own workspace
// and would fail with a bare "permission denied" at every start.
func reachable(dir string, uid, gid uint32) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		st, _ := fi.Sys().(*syscall.Stat_t)
		mode := fi.Mode().Perm()
		ok := mode&0o001 != 0 ||
			(st != nil && st.Uid == uid && mode&0o100 != 0) ||
			(st != nil && st.Gid == gid && mode&0o010 != 0)
		if !ok {
			return fmt.Errorf("session uid %d cannot reach %s: %s has mode %v (every folder above the workspaces needs o+x)", uid, dir, d, mode)
		}
		if d == "/" {
			return nil
		}
	}
}

// makeWorkspace creates a fresh workspace at path: a size-limited tmpfs
// when running as root and mounting works, a plain directory otherwise;
// mode 0700, owned by uid:gid, with a tmp folder for TMPDIR. os.Mkdir fails
// on an existing path, which is what makes workspaces never reused.
func (m *Manager) makeWorkspace(path string) (tmpfs bool, err error) {
	if err := os.Mkdir(path, 0o700); err != nil {
		return false, err
	}
	if m.root && !m.cfg.NoTmpfs {
		opts := fmt.Sprintf("size=%d,mode=0700,uid=%d,gid=%d", m.cfg.TmpfsSize, m.cfg.UID, m.cfg.GID)
		// nosuid and nodev: nothing the session writes may gain
		// privileges or reach devices.
		if unix.Mount("tmpfs", path, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts) == nil {
			tmpfs = true
		}
	}
	if !tmpfs && m.root {
		if err := os.Chown(path, int(m.cfg.UID), int(m.cfg.GID)); err != nil {
			return false, err
		}
	}
	dirs := []string{"tmp"}
	if m.sandbox == SandboxBubblewrap {
		// The sandbox's /dev/shm: browsers need a writable one, and
		// here it is counted and wiped with the rest.
		dirs = append(dirs, shmDir)
	}
	for _, d := range dirs {
		d = filepath.Join(path, d)
		if err := os.Mkdir(d, 0o700); err != nil {
			return tmpfs, err
		}
		if m.root {
			if err := os.Chown(d, int(m.cfg.UID), int(m.cfg.GID)); err != nil {
				return tmpfs, err
			}
		}
	}
	return tmpfs, nil
}

const shmDir = ".shm"

// wipeResult counts what a wipe removed.
type wipeResult struct {
	files, dirs int
	bytes       int64
	tmpfs, lazy bool
	gone        bool
	remaining   int // files still there after a failed wipe
	// outside counts entries removed at the top of shared folders by
	// sweepShared, outsideBytes their sizes; what a removed folder held
	// is in files, dirs and bytes.
	outside      int
	outsideBytes int64
}

// wipeWorkspace removes the workspace at path and checks that it is gone.
// A tmpfs is counted, then unmounted (its pages go back to the kernel at
// once); a directory is counted and removed entry by entry. Every step
// works relative to directory descriptors opened with O_NOFOLLOW, so a
// symbolic link planted in the workspace can never lead the removal out
// of it. A missing path is not an error: there is nothing left to wipe.
func wipeWorkspace(path string) (wipeResult, error) {
	var r wipeResult
	err := removeWorkspace(path, &r)
	// The check, whatever happened above: is anything still there?
	var st unix.Stat_t
	r.gone = errors.Is(unix.Lstat(path, &st), unix.ENOENT)
	if r.gone {
		return r, err
	}
	left := wipeResult{}
	_ = walkAt(unix.AT_FDCWD, path, &left, false)
	r.remaining = left.files
	if err == nil {
		err = fmt.Errorf("workspace %s still exists after the wipe", path)
	}
	return r, fmt.Errorf("%w (%d files left in it)", err, left.files)
}

func removeWorkspace(path string, r *wipeResult) error {
	if isMountPoint(path) {
		r.tmpfs = true
		if err := walkAt(unix.AT_FDCWD, path, r, false); err != nil {
			return err
		}
		if err := unix.Unmount(path, 0); err != nil {
			// Busy although no process of the session is left (for
			// example an fd passed to an outside process): detach it
			// so the path is free; the kernel frees the pages when the
			// last reference goes.
			if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
				return fmt.Errorf("unmount %s: %w", path, err)
			}
			r.lazy = true
		}
		// Whatever sits under the mount point (normally nothing) is
		// removed and counted as well.
	}
	if err := walkAt(unix.AT_FDCWD, path, r, true); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	if err := unix.Rmdir(path); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// walkAt counts (and with remove, deletes) everything below the directory
// name, opened relative to parent. The directory itself is left.
func walkAt(parent int, name string, r *wipeResult, remove bool) error {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(parent, name, flags, 0)
	if errors.Is(err, unix.EACCES) && remove {
		// Without root, a folder the session made unreadable must be
		// opened up first; it belongs to the appliance's own uid, so
		// this grants nothing the session could not do itself. Root
		// never gets EACCES here.
		if unix.Fchmodat(parent, name, 0o700, 0) == nil {
			fd, err = unix.Openat(parent, name, flags, 0)
		}
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	if remove {
		// Unlinking needs write permission on the folder: a session
		// may have taken it away from itself.
		_ = unix.Fchmod(fd, 0o700)
	}
	dir := os.NewFile(uintptr(fd), name)
	defer dir.Close()
	entries, err := dir.ReadDir(-1)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := walkAt(fd, e.Name(), r, remove); err != nil {
				return err
			}
			r.dirs++
			if remove {
				if err := unix.Unlinkat(fd, e.Name(), unix.AT_REMOVEDIR); err != nil {
					return fmt.Errorf("remove %s/%s: %w", name, e.Name(), err)
				}
			}
			continue
		}
		r.files++
		if e.Type().IsRegular() {
			var st unix.Stat_t
			if unix.Fstatat(fd, e.Name(), &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
				r.bytes += st.Size
			}
		}
		if remove {
			if err := unix.Unlinkat(fd, e.Name(), 0); err != nil {
				return fmt.Errorf("remove %s/%s: %w", name, e.Name(), err)
			}
		}
	}
	return nil
}

// isMountPoint reports whether path is a mount point in this process's
// mount namespace, from /proc/self/mountinfo (proc(5): the fifth field,
// with spaces and the like escaped as octal).
func isMountPoint(path string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && unescapeMount(f[4]) == path {
			return true
		}
	}
	return false
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range s[i+1 : i+4] {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + byte(c-'0')
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
