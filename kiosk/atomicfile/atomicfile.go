// Package atomicfile replaces a file all or nothing: a reader, or the
// next start after a crash, sees the old content or the new, never part
// of it.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with b, mode perm: written to a temporary file
// beside it, synced, then renamed over path.
func Write(path string, b []byte, perm os.FileMode) error {
	return write(path, b, perm, os.Rename)
}

// Create is Write for a file that must not exist yet: the finished file
// takes the name with a hard link, which fails (fs.ErrExist) if path is
// there.
func Create(path string, b []byte, perm os.FileMode) error {
	return write(path, b, perm, os.Link)
}

func write(path string, b []byte, perm os.FileMode, place func(tmp, path string) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // nothing left once placed
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(b)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return place(f.Name(), path)
}
