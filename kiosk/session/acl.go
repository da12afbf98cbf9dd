package session

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

// nobodyUID is the shared nobody account: never given anything of the
// appliance's.
const nobodyUID = 65534

// POSIX ACL permission bits and entry tags, as the kernel's
// system.posix_acl_access extended attribute holds them
// (include/uapi/linux/posix_acl_xattr.h, posix_acl.h).
const (
	aclExecute = 0x01
	aclWrite   = 0x02
	aclRead    = 0x04

	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20

	aclXattr      = "system.posix_acl_access"
	aclVersion    = 2
	aclUndefineID = 0xffffffff
)

type aclEntry struct {
	tag, perm uint16
	id        uint32
}

// grantACL gives uid perm on path through an ACL entry of its own,
// keeping every other entry, and widens the mask just enough for it: the
// owner, the group and everyone else keep exactly what they had.
func grantACL(path string, uid uint32, perm uint16) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	mode := uint16(fi.Mode().Perm())
	entries, err := readACL(path)
	if err != nil {
		return err
	}
	if entries == nil { // the mode alone: its three entries
		entries = []aclEntry{
			{aclUserObj, mode >> 6 & 7, aclUndefineID},
			{aclGroupObj, mode >> 3 & 7, aclUndefineID},
			{aclOther, mode & 7, aclUndefineID},
		}
	}
	entries = slices.DeleteFunc(entries, func(e aclEntry) bool {
		return e.tag == aclMask || e.tag == aclUser && e.id == uid
	})
	entries = append(entries, aclEntry{aclUser, perm, uid})
	// The mask bounds named entries and the owning group: the union of
	// them, so that no one's effective rights change but uid's.
	var mask uint16
	for _, e := range entries {
		if e.tag == aclUser || e.tag == aclGroup || e.tag == aclGroupObj {
			mask |= e.perm
		}
	}
	entries = append(entries, aclEntry{aclMask, mask, aclUndefineID})
	slices.SortFunc(entries, func(a, b aclEntry) int {
		if a.tag != b.tag {
			return int(a.tag) - int(b.tag)
		}
		return int(a.id) - int(b.id)
	})
	b := make([]byte, 4, 4+8*len(entries))
	binary.LittleEndian.PutUint32(b, aclVersion)
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	if err := unix.Setxattr(path, aclXattr, b, 0); err != nil {
		return fmt.Errorf("setting an ACL on %s: %w", path, err)
	}
	return nil
}

// readACL returns path's access ACL entries, nil when it has none beyond
// its mode.
func readACL(path string) ([]aclEntry, error) {
	buf := make([]byte, 4+8*64)
	n, err := unix.Getxattr(path, aclXattr, buf)
	if errors.Is(err, unix.ENODATA) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the ACL of %s: %w", path, err)
	}
	buf = buf[:n]
	if len(buf) < 4 || (len(buf)-4)%8 != 0 || binary.LittleEndian.Uint32(buf) != aclVersion {
		return nil, fmt.Errorf("the ACL of %s is not in a form this program reads", path)
	}
	var out []aclEntry
	for p := buf[4:]; len(p) >= 8; p = p[8:] {
		out = append(out, aclEntry{binary.LittleEndian.Uint16(p), binary.LittleEndian.Uint16(p[2:]), binary.LittleEndian.Uint32(p[4:])})
	}
	return out, nil
}
