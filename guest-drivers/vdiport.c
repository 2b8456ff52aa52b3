/* VDIPort agent driver; see vdiport.h. */
#include "vdiport.h"

#define VDI_PORT_IO_CONNECTION 0
#define VDI_PORT_IO_NOTIFY 4
#define VDI_PORT_IO_UPDATE_IRQ 8
#define VDI_PORT_MAGIC 0x50494456u
#define VDI_RAM_GENERATION 4
#define VDI_RAM_INT_MASK 12
#define VDI_RAM_INPUT 16
#define VDI_RAM_OUTPUT 16420
#define VDI_RING_ITEMS 20
#define VDI_PACKET_SIZE 512u
#define VDI_PACKET_DATA 504u
#define VDI_RING_LEN 32u
#define VDI_RAM_MIN_SIZE 32952u

static u32 rget(volatile const u8* p, u32 off) { return rd32(p + off); }

int vdi_probe(struct VdiPort* v) {
    memset(v, 0, sizeof *v);
    if (pci_find(0x1B36, 0x0105, &v->pci) != 0) return -1;
    if (!v->pci.bar_is_io[0] || v->pci.bar_is_io[1] || v->pci.bar_size[1] < VDI_RAM_MIN_SIZE) return -2;
    pci_enable(&v->pci);
    v->io = (u16)v->pci.bar_base[0];
    v->ram = (volatile u8*)v->pci.bar_base[1];
    v->ram_size = v->pci.bar_size[1];
    if (rget(v->ram, 0) != VDI_PORT_MAGIC) return -3;
    v->present = 1;
    return 0;
}

int vdi_connect(struct VdiPort* v) {
    if (!v->present) return -1;
    v->generation = inl((u16)(v->io + VDI_PORT_IO_CONNECTION));
    wr32(v->ram + VDI_RAM_INT_MASK, 0); /* the driver polls; interrupts stay masked */
    outl((u16)(v->io + VDI_PORT_IO_UPDATE_IRQ), 0);
    return v->generation ? 0 : -2;
}

/* The host bumps the generation when its side goes away; packets of the old generation are
 * stale and a half-assembled message is dropped. */
static void vdi_check_generation(struct VdiPort* v) {
    u32 gen = rget(v->ram, VDI_RAM_GENERATION);
    if (gen == v->generation) return;
    v->generation = gen;
    v->connection_resets++;
    v->chunk_hdr_len = 0;
    v->chunk_left = 0;
    v->msg_len = 0;
}

/* Writes raw stream bytes as packets into the guest->host ring. */
static int vdi_write_stream(struct VdiPort* v, const u8* data, u32 size) {
    volatile u8* ring = v->ram + VDI_RAM_INPUT;
    u32 t0 = ticks();
    while (size) {
        u32 prod = rget(ring, 4), cons = rget(ring, 12);
        if (prod - cons >= VDI_RING_LEN) {
            if (ticks() - t0 > 2 * TICK_HZ) return -1;
            wr32(ring + 16, cons + 1);
            outl((u16)(v->io + VDI_PORT_IO_NOTIFY), 0);
            sti_hlt();
            continue;
        }
        u32 n = size < VDI_PACKET_DATA ? size : VDI_PACKET_DATA;
        volatile u8* pkt = ring + VDI_RING_ITEMS + (prod & (VDI_RING_LEN - 1)) * VDI_PACKET_SIZE;
        wr32(pkt, v->generation);
        wr32(pkt + 4, n);
        for (u32 i = 0; i < n; i++) pkt[8 + i] = data[i];
        barrier();
        wr32(ring + 4, prod + 1);
        data += n;
        size -= n;
    }
    outl((u16)(v->io + VDI_PORT_IO_NOTIFY), 0);
    return 0;
}

int vdi_send(struct VdiPort* v, u32 port, u32 type, const void* data, u32 size) {
    if (!v->present || size > VD_AGENT_MAX_DATA_SIZE) return -1;
    vdi_check_generation(v);
    static u8 buf[8 + 20 + VD_AGENT_MAX_DATA_SIZE];
    u32 words[7] = {port, 20 + size, VD_AGENT_PROTOCOL, type, 0, 0, size};
    memcpy(buf, words, sizeof words);
    memcpy(buf + 28, data, size);
    return vdi_write_stream(v, buf, 28 + size);
}

int vdi_announce_caps(struct VdiPort* v, u32 request) {
    /* MOUSE_STATE, MONITORS_CONFIG, REPLY, CLIPBOARD_BY_DEMAND. */
    u32 caps[2] = {request, (1u << 0) | (1u << 1) | (1u << 2) | (1u << 5)};
    return vdi_send(v, VDP_CLIENT_PORT, VD_AGENT_ANNOUNCE_CAPABILITIES, caps, sizeof caps);
}

static u32 le32(const u8* p) { return (u32)p[0] | ((u32)p[1] << 8) | ((u32)p[2] << 16) | ((u32)p[3] << 24); }

static void vdi_dispatch(struct VdiPort* v) {
    u32 type = le32(v->msg + 4), size = le32(v->msg + 16);
    const u8* data = v->msg + 20;
    v->messages_received++;
    v->last_type = type;
    if (le32(v->msg) != VD_AGENT_PROTOCOL) {
        v->protocol_errors++;
        return;
    }
    switch (type) {
    case VD_AGENT_MOUSE_STATE:
        if (size >= 13) v->mouse_x = le32(data), v->mouse_y = le32(data + 4), v->mouse_buttons = le32(data + 8);
        break;
    case VD_AGENT_ANNOUNCE_CAPABILITIES:
        if (size >= 8) v->host_caps = le32(data + 4);
        if (size >= 4 && le32(data)) vdi_announce_caps(v, 0);
        break;
    case VD_AGENT_MONITORS_CONFIG: {
        u32 reply[2] = {VD_AGENT_MONITORS_CONFIG, 1 /* SUCCESS */};
        vdi_send(v, VDP_CLIENT_PORT, VD_AGENT_REPLY, reply, sizeof reply);
        break;
    }
    case VD_AGENT_CLIPBOARD_REQUEST: {
        static const char text[] = "qxlbox guest clipboard";
        u8 out[4 + sizeof text];
        u32 utf8 = 1;
        memcpy(out, &utf8, 4);
        memcpy(out + 4, text, sizeof text - 1);
        v->clipboard_requests++;
        vdi_send(v, VDP_CLIENT_PORT, VD_AGENT_CLIPBOARD, out, 4 + sizeof text - 1);
        break;
    }
    case VD_AGENT_FILE_XFER_START: {
        u32 status[2] = {size >= 4 ? le32(data) : 0, 0 /* CAN_SEND_DATA */};
        v->file_xfer_id = status[0];
        v->file_xfer_bytes = 0;
        vdi_send(v, VDP_CLIENT_PORT, VD_AGENT_FILE_XFER_STATUS, status, sizeof status);
        break;
    }
    case VD_AGENT_FILE_XFER_DATA:
        if (size >= 12 && le32(data) == v->file_xfer_id) {
            u32 chunk = le32(data + 4);
            if (chunk > size - 12) {
                v->protocol_errors++;
                break;
            }
            v->file_xfer_bytes += chunk;
            if (chunk == 0) {
                u32 status[2] = {v->file_xfer_id, 3 /* SUCCESS */};
                v->file_xfer_done++;
                vdi_send(v, VDP_CLIENT_PORT, VD_AGENT_FILE_XFER_STATUS, status, sizeof status);
            }
        }
        break;
    default: break;
    }
}

/* Feeds stream bytes through the chunk and message framing. */
static void vdi_feed(struct VdiPort* v, const u8* p, u32 n) {
    while (n) {
        if (v->chunk_left == 0) {
            v->chunk_hdr[v->chunk_hdr_len++] = *p++;
            n--;
            if (v->chunk_hdr_len == 8) {
                v->chunk_hdr_len = 0;
                v->chunk_port = le32(v->chunk_hdr);
                v->chunk_left = le32(v->chunk_hdr + 4);
                if (v->chunk_port == 0 || v->chunk_port >= 3 || v->chunk_left > VD_AGENT_MAX_DATA_SIZE + 20) {
                    v->protocol_errors++;
                    v->chunk_left = 0;
                    v->msg_len = 0;
                }
            }
            continue;
        }
        u32 take = n < v->chunk_left ? n : v->chunk_left;
        for (u32 i = 0; i < take; i++) {
            if (v->msg_len < sizeof v->msg) v->msg[v->msg_len] = p[i];
            v->msg_len++;
            if (v->msg_len == 20) {
                v->msg_expected = 20 + le32(v->msg + 16);
                if (v->msg_expected > sizeof v->msg) {
                    v->protocol_errors++;
                    v->msg_len = 0;
                }
            }
            if (v->msg_len >= 20 && v->msg_len == v->msg_expected) {
                vdi_dispatch(v);
                v->msg_len = 0;
            }
        }
        p += take;
        n -= take;
        v->chunk_left -= take;
    }
}

int vdi_poll(struct VdiPort* v) {
    if (!v->present) return -1;
    vdi_check_generation(v);
    volatile u8* ring = v->ram + VDI_RAM_OUTPUT;
    u32 before = v->messages_received;
    for (u32 guard = 0; guard < 4 * VDI_RING_LEN; guard++) {
        u32 prod = rget(ring, 4), cons = rget(ring, 12);
        if (prod == cons) break;
        volatile u8* pkt = ring + VDI_RING_ITEMS + (cons & (VDI_RING_LEN - 1)) * VDI_PACKET_SIZE;
        u32 gen = rd32(pkt), size = rd32(pkt + 4);
        if (gen == v->generation && size <= VDI_PACKET_DATA) {
            u8 tmp[VDI_PACKET_DATA];
            for (u32 i = 0; i < size; i++) tmp[i] = pkt[8 + i];
            vdi_feed(v, tmp, size);
        } else if (size > VDI_PACKET_DATA) {
            v->protocol_errors++;
        }
        wr32(ring + 12, cons + 1);
    }
    outl((u16)(v->io + VDI_PORT_IO_NOTIFY), 0);
    return (int)(v->messages_received - before);
}
