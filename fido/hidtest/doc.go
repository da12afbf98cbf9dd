// Package hidtest presents virtual FIDO security keys to the real libfido2
// and libudev as hidraw devices, through umockdev (Debian umockdev,
// libumockdev-dev). It is test support only.
//
// A Testbed is a private sysfs and /dev tree. Plug adds a hidraw node with
// a FIDO report descriptor (usage page 0xF1D0) whose parent hid and usb
// devices carry the IDs and strings libfido2's manifest reads, answers the
// node's HIDIOCGRDESCSIZE and HIDIOCGRDESC ioctls, and pumps its pty to a
// Port: libfido2 writes 65-byte reports (report ID 0 first) and reads
// 64-byte ones; the Port sees bare 64-byte CTAPHID packets. Unplug removes
// the node and closes the pty, so a client in mid-operation gets an I/O
// error, and cuts the Port's power. Several keys may be plugged at once.
//
// Only C code sees the testbed: umockdev works by LD_PRELOAD, and Go's own
// system calls do not go through libc. Code under test that uses libfido2
// therefore runs in a client process: StartClient re-executes the test
// binary with the preload library and UMOCKDEV_DIR set from its start, and
// the test process keeps the testbed and the keys so it can touch, pull
// and re-plug them while the client works. Command does the same for C
// programs such as fido2-token, and RunWithPIN gives such a program a
// terminal of its own and types the PIN at its prompt.
//
// umockdev 0.17 serves ioctls on a worker thread of its own, so the test
// process needs no GLib main loop. Two details of the glue matter and are
// tested: the pty master umockdev opens lacks O_CLOEXEC and must not leak
// into client processes (or a pulled key never hangs up), and a node's
// ioctl handler must exist before the node does and outlive it (the
// preload library ends a client that cannot reach it).
//
// The package owns the umockdev glue and the client protocol. It must not
// contain authenticator logic (that is fido/softkey) or adapter logic
// (fido/usbkey), and production code must not import it.
package hidtest
