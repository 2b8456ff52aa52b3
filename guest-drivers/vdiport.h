/* VDIPort agent driver (PCI 1b36:0105, qxlbox only; shared/spec/qxl-device.md §11.1 and §11.3).
 * Carries the SPICE agent byte stream (VDIChunkHeader + VDAgentMessage) over two rings of
 * 512-byte packets in BAR1, with a connection generation read from the CONNECTION register.
 * QEMU has no such device: vdi_probe() reports its absence and callers treat that as a value. */
#ifndef GUEST_VDIPORT_H
#define GUEST_VDIPORT_H

#include "runtime.h"

#define VD_AGENT_PROTOCOL 1u
#define VDP_CLIENT_PORT 1u
#define VDP_SERVER_PORT 2u
#define VD_AGENT_MAX_DATA_SIZE 2048u

enum VdAgentType {
    VD_AGENT_MOUSE_STATE = 1,
    VD_AGENT_MONITORS_CONFIG = 2,
    VD_AGENT_REPLY = 3,
    VD_AGENT_CLIPBOARD = 4,
    VD_AGENT_DISPLAY_CONFIG = 5,
    VD_AGENT_ANNOUNCE_CAPABILITIES = 6,
    VD_AGENT_CLIPBOARD_GRAB = 7,
    VD_AGENT_CLIPBOARD_REQUEST = 8,
    VD_AGENT_CLIPBOARD_RELEASE = 9,
    VD_AGENT_FILE_XFER_START = 10,
    VD_AGENT_FILE_XFER_STATUS = 11,
    VD_AGENT_FILE_XFER_DATA = 12,
    VD_AGENT_CLIENT_DISCONNECTED = 13,
};

struct VdiPort {
    struct PciFunction pci;
    u8 present;
    u16 io;
    volatile u8* ram;
    u32 ram_size;
    u32 generation;
    /* Reassembly of one incoming message. */
    u8 msg[VD_AGENT_MAX_DATA_SIZE + 20];
    u32 msg_len, msg_expected;
    u8 chunk_hdr[8]; /* VDIChunkHeader being assembled */
    u32 chunk_hdr_len;
    u32 chunk_left;
    u32 chunk_port;
    /* What the driver has seen from the host side. */
    u32 messages_received;
    u32 last_type;
    u32 protocol_errors;
    u32 connection_resets;
    u32 host_caps;
    u32 mouse_x, mouse_y, mouse_buttons;
    u32 clipboard_requests;
    u32 file_xfer_bytes;
    u32 file_xfer_id;
    u32 file_xfer_expected;
    u32 file_xfer_done;
};

int vdi_probe(struct VdiPort* v);     /* 0 when present */
int vdi_connect(struct VdiPort* v);   /* reads CONNECTION: generation */
int vdi_send(struct VdiPort* v, u32 port, u32 type, const void* data, u32 size);
/* Drains the host->guest ring, dispatching complete messages; returns messages handled. */
int vdi_poll(struct VdiPort* v);
int vdi_announce_caps(struct VdiPort* v, u32 request);

#endif
