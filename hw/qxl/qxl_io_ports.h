/* QXL I/O port offsets from the device's I/O BAR (shared/spec/qxl-device.md §4), in plain C so
 * that the device model (C++, hw/qxl/qxl_defs.h) and the guest driver (freestanding C,
 * guest-drivers/qxl.h) use one definition. Names follow spice-protocol's qxl_dev.h. */
#ifndef QXLBOX_HW_QXL_QXL_IO_PORTS_H
#define QXLBOX_HW_QXL_QXL_IO_PORTS_H

enum QxlIoPort {
    QXL_IO_NOTIFY_CMD = 0,
    QXL_IO_NOTIFY_CURSOR = 1,
    QXL_IO_UPDATE_AREA = 2,
    QXL_IO_UPDATE_IRQ = 3,
    QXL_IO_NOTIFY_OOM = 4,
    QXL_IO_RESET = 5,
    QXL_IO_SET_MODE = 6,
    QXL_IO_LOG = 7,
    QXL_IO_MEMSLOT_ADD = 8,
    QXL_IO_MEMSLOT_DEL = 9,
    QXL_IO_DETACH_PRIMARY = 10,
    QXL_IO_ATTACH_PRIMARY = 11,
    QXL_IO_CREATE_PRIMARY = 12,
    QXL_IO_DESTROY_PRIMARY = 13,
    QXL_IO_DESTROY_SURFACE_WAIT = 14,
    QXL_IO_DESTROY_ALL_SURFACES = 15,
    QXL_IO_UPDATE_AREA_ASYNC = 16,
    QXL_IO_MEMSLOT_ADD_ASYNC = 17,
    QXL_IO_CREATE_PRIMARY_ASYNC = 18,
    QXL_IO_DESTROY_PRIMARY_ASYNC = 19,
    QXL_IO_DESTROY_SURFACE_ASYNC = 20,
    QXL_IO_DESTROY_ALL_SURFACES_ASYNC = 21,
    QXL_IO_FLUSH_SURFACES_ASYNC = 22,
    QXL_IO_FLUSH_RELEASE = 23,
    QXL_IO_MONITORS_CONFIG_ASYNC = 24,
    QXL_IO_RANGE_SIZE = 25 /* number of ports */
};

#endif
