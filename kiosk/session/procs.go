package session

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// member says how a process can be recognised as part of a session. Any
// one matching trait is enough. A zero field is not checked.
//
// The traits cover each other's gaps: the process groups catch what has
// not yet exec'd; the marker variable follows fork and exec even across
// setsid; the PID namespace (bubblewrap) holds everything the program
// started whatever it did to its environment; a dedicated uid cannot be
// given up; a working directory or root inside the workspace is how a
// leftover would hold the workspace busy.
type member struct {
	marker    []byte // "PASSKIOSK_SESSION=<id>" as one environ entry
	pgids     []int  // the process group of each launch
	pidNS     uint64
	uid       int64 // -1: not checked
	workspace string
}

// proc is what a scan learned about one live process.
type proc struct {
	pid, pgid int
	comm      string
}

// scan lists the live processes that belong to the session. Zombies are
// skipped: a zombie has already released its memory, files and working
// directory and only waits for its parent to read its status.
func (m member) scan() []proc {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	self := os.Getpid()
	var out []proc
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid == self || pid == 1 {
			continue
		}
		st, ok := readStat(pid)
		if !ok || st.state == 'Z' || st.state == 'X' {
			continue
		}
		if m.matches(pid, st) {
			out = append(out, proc{pid: pid, pgid: st.pgid, comm: st.comm})
		}
	}
	return out
}

func (m member) matches(pid int, st stat) bool {
	for _, g := range m.pgids {
		if g > 0 && st.pgid == g {
			return true
		}
	}
	dir := "/proc/" + strconv.Itoa(pid)
	if m.uid >= 0 && hasUID(dir, uint32(m.uid)) {
		return true
	}
	if m.pidNS != 0 && nsInode(dir+"/ns/pid") == m.pidNS {
		return true
	}
	if len(m.marker) > 0 {
		if env, err := os.ReadFile(dir + "/environ"); err == nil && hasEntry(env, m.marker) {
			return true
		}
	}
	if m.workspace != "" {
		for _, link := range []string{"/cwd", "/root"} {
			if t, err := os.Readlink(dir + link); err == nil && within(t, m.workspace) {
				return true
			}
		}
	}
	return false
}

type stat struct {
	state      byte
	ppid, pgid int
	comm       string
}

// readStat parses /proc/<pid>/stat (proc(5)). The command name may hold
// spaces and parentheses, so fields are counted from the last ')'.
func readStat(pid int) (stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, false
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open || end+2 >= len(b) {
		return stat{}, false
	}
	f := strings.Fields(string(b[end+2:]))
	if len(f) < 3 || len(f[0]) != 1 {
		return stat{}, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgid, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil {
		return stat{}, false
	}
	return stat{state: f[0][0], ppid: ppid, pgid: pgid, comm: string(b[open+1 : end])}, true
}

// hasUID reports whether any of the real, effective, saved or file-system
// uids in /proc/<pid>/status is uid.
func hasUID(dir string, uid uint32) bool {
	b, err := os.ReadFile(dir + "/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			for _, f := range strings.Fields(rest) {
				if v, err := strconv.ParseUint(f, 10, 32); err == nil && uint32(v) == uid {
					return true
				}
			}
			return false
		}
	}
	return false
}

// nsInode reads a namespace link such as "pid:[4026532178]".
func nsInode(link string) uint64 {
	t, err := os.Readlink(link)
	if err != nil {
		return 0
	}
	i, j := strings.IndexByte(t, '['), strings.IndexByte(t, ']')
	if i < 0 || j < i {
		return 0
	}
	v, _ := strconv.ParseUint(t[i+1:j], 10, 64)
	return v
}

// hasEntry reports whether the NUL-separated environment block env holds
// exactly the entry e.
func hasEntry(env, e []byte) bool {
	for len(env) > 0 {
		i := bytes.IndexByte(env, 0)
		if i < 0 {
			return bytes.Equal(env, e)
		}
		if bytes.Equal(env[:i], e) {
			return true
		}
		env = env[i+1:]
	}
	return false
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+"/")
}
