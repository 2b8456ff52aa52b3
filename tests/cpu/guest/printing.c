/* Formatted printing: widths, padding, signs, hex, strings and characters. */
#include "guest.h"

int main(void) {
    static const s32 values[] = {0, 1, -1, 42, -42, 2147483647, -2147483647 - 1, 65535, 100000};
    for (unsigned i = 0; i < sizeof values / sizeof values[0]; ++i) {
        s32 v = values[i];
        printf_serial("[%d] [%5d] [%-6d] [%08d] [%u] [%x] [%X] [%010x]\n", v, v, v, v, (u32)v, (u32)v, (u32)v, (u32)v);
    }
    printf_serial("[%s] [%10s] [%-10s] [%c%c%c] [%%]\n", "qxlbox", "right", "left", 'a', 'b', 'c');
    printf_serial("[%lld] [%llu] [%llx] [%020lld]\n", -1234567890123ll, 18446744073709551615ull, 0xdeadbeefcafebabeull,
                  -77ll);
    for (int row = 1; row <= 9; ++row) {
        for (int col = 1; col <= 9; ++col) printf_serial("%3d", row * col);
        putc_serial('\n');
    }
    return 0;
}
