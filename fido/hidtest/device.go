package hidtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"passkiosk/fido/softkey/host"
)

// Port is the USB side of a virtual authenticator: 64-byte HID reports in
// both directions (CTAPHID, CTAP 2.1 §11.2.4), without report IDs.
// softkey's *Conn satisfies it.
type Port interface {
	host.Device
	// Unplug cuts power: the authenticator forgets its volatile state.
	Unplug()
}

// Identity is what the USB descriptors say about a key. The zero value
// gives a generic virtual key.
type Identity struct {
	VendorID, ProductID uint16
	Manufacturer        string
	Product             string
	Serial              string
}

func (id Identity) withDefaults() Identity {
	if id.VendorID == 0 {
		id.VendorID = 0x1209 // pid.codes test vendor ID
	}
	if id.ProductID == 0 {
		id.ProductID = 0x000a
	}
	if id.Manufacturer == "" {
		id.Manufacturer = "passkiosk"
	}
	if id.Product == "" {
		id.Product = "virtual security key"
	}
	return id
}

const (
	reportLen      = 64 // CTAPHID report size
	hostReportLen  = 65 // hidraw writes carry report ID 0 first
	ctaphidCBOR    = 0x10
	ctaphidInitBit = 0x80
)

// Device is one key plugged into a testbed: a hidraw node whose pty is
// pumped to and from a Port.
type Device struct {
	b        *Testbed
	devnode  string
	syspaths []string
	port     Port
	f        *os.File
	ptymap   string
	ctx      context.Context
	stop     context.CancelFunc
	wg       sync.WaitGroup
	once     sync.Once

	mu   sync.Mutex
	cond *sync.Cond
	seen map[byte]int // CTAP command byte → times the host sent it
	gone bool
}

// Plug adds a hidraw FIDO device to the testbed and connects it to p. Each
// plug gets a new device node, as the kernel may give a re-plugged key.
func (b *Testbed) Plug(p Port, id Identity) (*Device, error) {
	id = id.withDefaults()
	b.mu.Lock()
	b.next++
	n := b.next
	b.mu.Unlock()

	devnode := fmt.Sprintf("/dev/hidraw%d", n)
	record, syspaths := deviceRecord(n, id)
	if err := b.add(record, devnode); err != nil {
		return nil, err
	}
	fd := b.devFD(devnode)
	if fd < 0 {
		b.remove(syspaths)
		return nil, fmt.Errorf("hidtest: no pty for %s", devnode)
	}
	// Non-blocking so that the runtime poller serves the pty and Close
	// wakes a pending Read.
	if err := syscall.SetNonblock(fd, true); err != nil {
		b.remove(syspaths)
		return nil, fmt.Errorf("hidtest: %s: %w", devnode, err)
	}
	ptymap, err := ptymapEntry(b.root, fd)
	if err != nil {
		b.remove(syspaths)
		return nil, fmt.Errorf("hidtest: %s: %w", devnode, err)
	}
	ctx, stop := context.WithCancel(context.Background())
	d := &Device{
		b: b, devnode: devnode, syspaths: syspaths, port: p, ptymap: ptymap,
		f: os.NewFile(uintptr(fd), devnode), ctx: ctx, stop: stop,
		seen: make(map[byte]int),
	}
	d.cond = sync.NewCond(&d.mu)
	d.wg.Add(2)
	go d.hostToDevice()
	go d.deviceToHost()

	b.mu.Lock()
	b.devices[d] = struct{}{}
	b.mu.Unlock()
	return d, nil
}

// Path is the device node libfido2 reports for this key.
func (d *Device) Path() string { return d.devnode }

// Unplug pulls the key: the node and its sysfs entries disappear, the pty
// is closed so that a client in the middle of an operation gets an I/O
// error, and the authenticator loses power. Safe to call more than once.
func (d *Device) Unplug() {
	d.once.Do(func() {
		d.b.remove(d.syspaths)
		d.port.Unplug()
		d.stop()
		// umockdev keeps a map from pty name to device number and
		// asserts when a new device gets a pty with a name already in it;
		// the kernel reuses the name once the pty is closed. Closing and
		// forgetting happen under the testbed's lock, which Plug's add
		// takes too, so a key plugged meanwhile (a test's next key while
		// a fault pulls this one) cannot get the name in between.
		d.b.mu.Lock()
		_ = d.f.Close()
		_ = os.Remove(d.ptymap)
		d.b.mu.Unlock()
		d.wg.Wait()
		d.mu.Lock()
		d.gone = true
		d.cond.Broadcast()
		d.mu.Unlock()
		d.b.mu.Lock()
		delete(d.b.devices, d)
		d.b.mu.Unlock()
	})
}

// CommandCount is how many CTAP requests with command byte cmd (CTAP 2.1
// §6, e.g. 0x02 authenticatorGetAssertion) the host has sent to this key.
func (d *Device) CommandCount(cmd byte) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.seen[cmd]
}

// WaitCommand waits until the host has sent at least n CTAP requests with
// command byte cmd, so a test can act (unplug, cancel) while the key is
// busy with that request.
func (d *Device) WaitCommand(ctx context.Context, cmd byte, n int) error {
	stop := context.AfterFunc(ctx, func() {
		d.mu.Lock()
		d.cond.Broadcast()
		d.mu.Unlock()
	})
	defer stop()
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.seen[cmd] < n {
		if d.gone {
			return errors.New("hidtest: device unplugged")
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("hidtest: waiting for command 0x%02x: %w", cmd, err)
		}
		d.cond.Wait()
	}
	return nil
}

// hostToDevice reads 65-byte hidraw reports from the pty, drops the report
// ID and hands the 64-byte CTAPHID packet to the port.
func (d *Device) hostToDevice() {
	defer d.wg.Done()
	buf := make([]byte, 4096)
	var pending []byte
	for {
		n, err := d.f.Read(buf)
		if n > 0 {
			pending = append(pending, buf[:n]...)
			for len(pending) >= hostReportLen {
				pkt := append([]byte(nil), pending[1:hostReportLen]...)
				pending = pending[hostReportLen:]
				d.note(pkt)
				if d.port.Write(pkt) != nil {
					return
				}
			}
		}
		if err != nil {
			if d.ctx.Err() != nil {
				return
			}
			// EIO: no client has the node open (between libfido2's
			// open/close pairs). A partial report belongs to a client that
			// went away; drop it and wait for the next one.
			pending = pending[:0]
			select {
			case <-d.ctx.Done():
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}
}

// deviceToHost copies the port's reports to the pty, where libfido2 reads
// them as 64-byte hidraw input reports.
func (d *Device) deviceToHost() {
	defer d.wg.Done()
	for {
		pkt, err := d.port.Read(d.ctx)
		if err != nil {
			if d.ctx.Err() == nil {
				// The key pulled itself out (a fault switch): make the
				// host see it go, as it would see a real key go.
				go d.Unplug()
			}
			return
		}
		if len(pkt) != reportLen {
			continue
		}
		// A write with no client attached fails with EIO: the report is
		// lost, as it would be on a real bus with nobody listening.
		if _, err := d.f.Write(pkt); err != nil && d.ctx.Err() != nil {
			return
		}
	}
}

// note records the CTAP command of a CTAPHID_CBOR initialisation packet
// (CTAP 2.1 §11.2.4: CID(4) CMD(1) BCNTH BCNTL DATA…).
func (d *Device) note(pkt []byte) {
	if pkt[4] != ctaphidInitBit|ctaphidCBOR || (int(pkt[5])<<8|int(pkt[6])) == 0 {
		return
	}
	d.mu.Lock()
	d.seen[pkt[7]]++
	d.cond.Broadcast()
	d.mu.Unlock()
}

// ptymapEntry returns the file umockdev created to map the pty behind fd
// back to the emulated device (<root>/dev/.ptymap/_dev_pts_N).
func ptymapEntry(root string, fd int) (string, error) {
	var n uint32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); errno != 0 {
		return "", fmt.Errorf("TIOCGPTN: %w", errno)
	}
	return filepath.Join(root, "dev", ".ptymap", fmt.Sprintf("_dev_pts_%d", n)), nil
}

// deviceRecord describes key n in umockdev's record format: the hidraw
// node, its hid parent carrying HID_ID and the report descriptor, the USB
// interface and the USB device with the manufacturer and product strings
// libfido2's manifest reads. Parents come first, so that a client polling
// for keys never finds the hidraw node before the strings it reads from
// the parents are written. It returns the sysfs paths leaf first.
func deviceRecord(n int, id Identity) (string, []string) {
	usbdev := fmt.Sprintf("/devices/pci0000:00/0000:00:14.0/usb1/1-%d", n)
	intf := fmt.Sprintf("%s/1-%d:1.0", usbdev, n)
	hid := fmt.Sprintf("%s/0003:%04X:%04X.%04X", intf, id.VendorID, id.ProductID, n)
	hidraw := fmt.Sprintf("%s/hidraw/hidraw%d", hid, n)
	rec := fmt.Sprintf(`P: %[4]s
E: DEVTYPE=usb_device
E: DRIVER=usb
E: PRODUCT=%[6]x/%[7]x/100
E: SUBSYSTEM=usb
A: idVendor=%04[6]x\n
A: idProduct=%04[7]x\n
A: manufacturer=%[8]s\n
A: product=%[9]s\n
A: serial=%[10]s\n

P: %[3]s
E: DEVTYPE=usb_interface
E: DRIVER=usbhid
E: INTERFACE=3/0/0
E: SUBSYSTEM=usb
A: bInterfaceClass=03\n

P: %[2]s
E: DRIVER=hid-generic
E: HID_ID=0003:%08[6]X:%08[7]X
E: HID_NAME=%[8]s %[9]s
E: HID_UNIQ=%[10]s
E: SUBSYSTEM=hid
H: report_descriptor=06D0F10901A1010920150026FF007508954081020921150026FF00750895409102C0

P: %[1]s
N: hidraw%[5]d
E: DEVNAME=/dev/hidraw%[5]d
E: SUBSYSTEM=hidraw
E: ID_FIDO_TOKEN=1
E: ID_SECURITY_TOKEN=1
A: dev=240:%[5]d\n
L: device=../../../0003:%04[6]X:%04[7]X.%04[5]X
`, hidraw, hid, intf, usbdev, n, id.VendorID, id.ProductID, id.Manufacturer, id.Product, id.Serial)
	return rec, []string{"/sys" + hidraw, "/sys" + hid, "/sys" + intf, "/sys" + usbdev}
}
