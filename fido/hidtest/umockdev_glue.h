// Glue between Go and libumockdev: a testbed whose ioctl handler answers
// the two hidraw ioctls libfido2 issues (HIDIOCGRDESCSIZE, HIDIOCGRDESC)
// and leaves read and write to the device node's pty.
#ifndef PASSKIOSK_HIDTEST_GLUE_H
#define PASSKIOSK_HIDTEST_GLUE_H

#include <umockdev.h>

typedef struct hidtest_bed hidtest_bed;

hidtest_bed *hidtest_bed_new(char **errmsg);
void hidtest_bed_free(hidtest_bed *b);
const char *hidtest_bed_root(hidtest_bed *b);
int hidtest_bed_add(hidtest_bed *b, const char *record, const char *devnode, char **errmsg);
int hidtest_bed_dev_fd(hidtest_bed *b, const char *devnode);
void hidtest_bed_remove_device(hidtest_bed *b, const char *syspath);
unsigned hidtest_ioctl_count(void);

#endif
