/* Sorting: quicksort, heapsort, insertion sort and a merge sort over pseudo-random data. */
#include "guest.h"

#define N 3000
static s32 a[N], b[N], c[N], d[N], tmp[N];

static void quicksort(s32* v, int lo, int hi) {
    while (lo < hi) {
        s32 pivot = v[(lo + hi) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot) ++i;
            while (v[j] > pivot) --j;
            if (i <= j) { s32 t = v[i]; v[i] = v[j]; v[j] = t; ++i; --j; }
        }
        if (j - lo < hi - i) { quicksort(v, lo, j); lo = i; } else { quicksort(v, i, hi); hi = j; }
    }
}

static void sift(s32* v, int start, int end) {
    int root = start;
    while (2 * root + 1 <= end) {
        int child = 2 * root + 1;
        if (child + 1 <= end && v[child] < v[child + 1]) ++child;
        if (v[root] >= v[child]) return;
        s32 t = v[root]; v[root] = v[child]; v[child] = t;
        root = child;
    }
}

static void heapsort(s32* v, int n) {
    for (int s = (n - 2) / 2; s >= 0; --s) sift(v, s, n - 1);
    for (int e = n - 1; e > 0; --e) {
        s32 t = v[0]; v[0] = v[e]; v[e] = t;
        sift(v, 0, e - 1);
    }
}

static void insertion(s32* v, int n) {
    for (int i = 1; i < n; ++i) {
        s32 x = v[i];
        int j = i - 1;
        while (j >= 0 && v[j] > x) { v[j + 1] = v[j]; --j; }
        v[j + 1] = x;
    }
}

static void mergesort(s32* v, int n) {
    for (int w = 1; w < n; w *= 2) {
        for (int lo = 0; lo < n; lo += 2 * w) {
            int mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = v[i] <= v[j] ? v[i++] : v[j++];
            while (i < mid) tmp[k++] = v[i++];
            while (j < hi) tmp[k++] = v[j++];
        }
        memcpy(v, tmp, sizeof(s32) * (size_t)n);
    }
}

static u32 digest(const s32* v, int n) {
    u32 h = 0;
    for (int i = 0; i < n; ++i) h = h * 31 + (u32)v[i];
    return h;
}

static int sorted(const s32* v, int n) {
    for (int i = 1; i < n; ++i)
        if (v[i - 1] > v[i]) return 0;
    return 1;
}

int main(void) {
    u32 x = 42;
    for (int i = 0; i < N; ++i) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        a[i] = b[i] = c[i] = d[i] = (s32)(x % 200001) - 100000;
    }
    printf_serial("unsorted digest %08x\n", digest(a, N));
    quicksort(a, 0, N - 1);
    heapsort(b, N);
    insertion(c, N);
    mergesort(d, N);
    printf_serial("quick %d %08x heap %d %08x insertion %d %08x merge %d %08x\n", sorted(a, N), digest(a, N), sorted(b, N),
                  digest(b, N), sorted(c, N), digest(c, N), sorted(d, N), digest(d, N));
    printf_serial("min %d median %d max %d\n", a[0], a[N / 2], a[N - 1]);
    return 0;
}
