/* Scenario interpreter entry points; see scenario.c and docs/scenarios.md. */
#ifndef GUEST_SCENARIO_H
#define GUEST_SCENARIO_H

#include "qxl.h"
#include "vdiport.h"

/* Checks header, checksum and every step's framing; *why explains a rejection. */
int scenario_validate(const u8* module, u32 size, const char** why);
/* Runs every step; returns 0 when every check passed. */
int scenario_run(const u8* module, struct QxlDevice* qxl, struct VdiPort* vdi, u8* heap, u32 heap_size);

#endif
