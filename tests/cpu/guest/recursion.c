/* Recursion: Fibonacci, Ackermann, Towers of Hanoi, N-queens, permutations. */
#include "guest.h"

static u32 fib(u32 n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static u32 ack(u32 m, u32 n) {
    if (m == 0) return n + 1;
    if (n == 0) return ack(m - 1, 1);
    return ack(m - 1, ack(m, n - 1));
}

static u32 moves;
static void hanoi(int n, int from, int to, int via) {
    if (n == 0) return;
    hanoi(n - 1, from, via, to);
    ++moves;
    hanoi(n - 1, via, to, from);
}

static int queens(int row, int n, u32 cols, u32 d1, u32 d2) {
    if (row == n) return 1;
    int count = 0;
    for (int c = 0; c < n; ++c) {
        if ((cols >> c) & 1 || (d1 >> (row + c)) & 1 || (d2 >> (row - c + n)) & 1) continue;
        count += queens(row + 1, n, cols | 1u << c, d1 | 1u << (row + c), d2 | 1u << (row - c + n));
    }
    return count;
}

static u32 perm_hash;
static void permute(char* s, int k, int n) {
    if (k == n) {
        for (int i = 0; i < n; ++i) perm_hash = perm_hash * 33 + (u32)s[i];
        return;
    }
    for (int i = k; i < n; ++i) {
        char t = s[k]; s[k] = s[i]; s[i] = t;
        permute(s, k + 1, n);
        t = s[k]; s[k] = s[i]; s[i] = t;
    }
}

int main(void) {
    printf_serial("fib(24) = %u\n", fib(24));
    printf_serial("ack(2,3) = %u ack(3,3) = %u\n", ack(2, 3), ack(3, 3));
    hanoi(16, 1, 3, 2);
    printf_serial("hanoi(16) moves = %u\n", moves);
    for (int n = 4; n <= 8; ++n) printf_serial("queens(%d) = %d\n", n, queens(0, n, 0, 0, 0));
    char s[] = "abcdefg";
    permute(s, 0, 7);
    printf_serial("perm hash = %08x\n", perm_hash);
    return 0;
}
