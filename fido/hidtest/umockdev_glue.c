#include "umockdev_glue.h"

#include <errno.h>
#include <linux/hidraw.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>

// The FIDO HID report descriptor (CTAP 2.1 §11.2.8.1): usage page 0xF1D0,
// usage 0x01, one 64-byte input and one 64-byte output report, no report
// IDs. libfido2 accepts a hidraw node only when this usage page is found.
static const unsigned char fido_report_descriptor[] = {
	0x06, 0xd0, 0xf1,	// Usage Page (FIDO Alliance)
	0x09, 0x01,		// Usage (CTAPHID)
	0xa1, 0x01,		// Collection (Application)
	0x09, 0x20,		//   Usage (Input Report Data)
	0x15, 0x00,		//   Logical Minimum (0)
	0x26, 0xff, 0x00,	//   Logical Maximum (255)
	0x75, 0x08,		//   Report Size (8)
	0x95, 0x40,		//   Report Count (64)
	0x81, 0x02,		//   Input (Data, Var, Abs)
	0x09, 0x21,		//   Usage (Output Report Data)
	0x15, 0x00,		//   Logical Minimum (0)
	0x26, 0xff, 0x00,	//   Logical Maximum (255)
	0x75, 0x08,		//   Report Size (8)
	0x95, 0x40,		//   Report Count (64)
	0x91, 0x02,		//   Output (Data, Var, Abs)
	0xc0,			// End Collection
};

static atomic_uint ioctl_count;

struct hidtest_bed {
	UMockdevTestbed *tb;
	UMockdevIoctlBase *handler;
	char *root;
};

// copy_out resolves the ioctl argument pointer in the client process and
// copies len bytes of src into it; umockdev syncs the memory back to the
// client when the ioctl is completed.
static int
copy_out(UMockdevIoctlClient *client, const void *src, size_t len)
{
	UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
	GError *err = NULL;
	UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, len, &err);

	if (d == NULL) {
		g_clear_error(&err);
		return -1;
	}
	memcpy(d->data, src, len);
	umockdev_ioctl_data_unref(d);
	return 0;
}

// on_ioctl runs on the testbed's worker thread. Returning FALSE lets
// umockdev fall through to its default handling (ENOTTY for unknown
// requests); read and write are never claimed, so they reach the pty.
static gboolean
on_ioctl(UMockdevIoctlBase *base, UMockdevIoctlClient *client, gpointer user)
{
	gulong req = umockdev_ioctl_client_get_request(client);

	(void)base;
	(void)user;
	atomic_fetch_add(&ioctl_count, 1);

	if (req == HIDIOCGRDESCSIZE) {
		int size = (int)sizeof(fido_report_descriptor);
		if (copy_out(client, &size, sizeof(size)) < 0) {
			umockdev_ioctl_client_complete(client, -1, EFAULT);
			return TRUE;
		}
		umockdev_ioctl_client_complete(client, 0, 0);
		return TRUE;
	}
	if (req == HIDIOCGRDESC) {
		struct hidraw_report_descriptor rd;
		memset(&rd, 0, sizeof(rd));
		rd.size = sizeof(fido_report_descriptor);
		memcpy(rd.value, fido_report_descriptor, sizeof(fido_report_descriptor));
		if (copy_out(client, &rd, sizeof(rd)) < 0) {
			umockdev_ioctl_client_complete(client, -1, EFAULT);
			return TRUE;
		}
		umockdev_ioctl_client_complete(client, 0, 0);
		return TRUE;
	}
	return FALSE;
}

unsigned
hidtest_ioctl_count(void)
{
	return atomic_load(&ioctl_count);
}

static char *
take_error(GError *err, const char *what)
{
	char *s = g_strdup_printf("%s: %s", what, err != NULL ? err->message : "failed");
	g_clear_error(&err);
	return s;
}

hidtest_bed *
hidtest_bed_new(char **errmsg)
{
	hidtest_bed *b = g_new0(hidtest_bed, 1);

	// umockdev_testbed_new starts its own worker thread with its own
	// GMainContext; ioctl handlers attached later are served there, so
	// this process needs no main loop of its own.
	b->tb = umockdev_testbed_new();
	if (b->tb == NULL) {
		*errmsg = g_strdup("umockdev_testbed_new failed");
		g_free(b);
		return NULL;
	}
	b->root = umockdev_testbed_get_root_dir(b->tb);
	b->handler = umockdev_ioctl_base_new();
	g_signal_connect(b->handler, "handle-ioctl", G_CALLBACK(on_ioctl), NULL);
	return b;
}

void
hidtest_bed_free(hidtest_bed *b)
{
	if (b == NULL)
		return;
	g_object_unref(b->tb);
	g_object_unref(b->handler);
	g_free(b->root);
	g_free(b);
}

const char *
hidtest_bed_root(hidtest_bed *b)
{
	return b->root;
}

int
hidtest_bed_add(hidtest_bed *b, const char *record, const char *devnode, char **errmsg)
{
	GError *err = NULL;

	// The handler goes first: the preload library ends a client that opens
	// a node whose ioctl socket does not exist yet, and a client polling
	// for keys can open the node as soon as it appears.
	if (!umockdev_testbed_attach_ioctl(b->tb, devnode, b->handler, &err)) {
		*errmsg = take_error(err, "attach ioctl handler");
		return -1;
	}
	if (!umockdev_testbed_add_from_string(b->tb, record, &err)) {
		*errmsg = take_error(err, "add device");
		return -1;
	}
	return 0;
}

int
hidtest_bed_dev_fd(hidtest_bed *b, const char *devnode)
{
	return umockdev_testbed_get_dev_fd(b->tb, devnode);
}

void
hidtest_bed_remove_device(hidtest_bed *b, const char *syspath)
{
	umockdev_testbed_remove_device(b->tb, syspath);
}
