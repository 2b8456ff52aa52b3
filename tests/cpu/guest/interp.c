/* A small stack-machine interpreter (switch dispatch) running a prime sieve and a loop. */
#include "guest.h"

enum { PUSH, LOAD, STORE, ADD, SUB, MUL, MOD, LT, JZ, JMP, PRINT, HALT, DUP, DROP };

static int run(const int* code, int* vars) {
    int stack[64];
    int sp = 0, pc = 0, steps = 0;
    for (;;) {
        ++steps;
        switch (code[pc++]) {
            case PUSH: stack[sp++] = code[pc++]; break;
            case LOAD: stack[sp++] = vars[code[pc++]]; break;
            case STORE: vars[code[pc++]] = stack[--sp]; break;
            case ADD: --sp; stack[sp - 1] += stack[sp]; break;
            case SUB: --sp; stack[sp - 1] -= stack[sp]; break;
            case MUL: --sp; stack[sp - 1] *= stack[sp]; break;
            case MOD: --sp; stack[sp - 1] %= stack[sp]; break;
            case LT: --sp; stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
            case JZ: { int t = code[pc++]; if (!stack[--sp]) pc = t; break; }
            case JMP: pc = code[pc]; break;
            case PRINT: printf_serial("%d ", stack[--sp]); break;
            case DUP: stack[sp] = stack[sp - 1]; ++sp; break;
            case DROP: --sp; break;
            case HALT: return steps;
            default: printf_serial("bad opcode\n"); return -1;
        }
    }
}

int main(void) {
    /* for n in 2..300: for d in 2..n-1 while d*d<=n: if n%d==0 not prime; print primes */
    static const int primes[] = {
        PUSH, 2, STORE, 0,                                        /* 0: n = 2 */
        LOAD, 0, PUSH, 300, LT, JZ, 56,                           /* 4: while n < 300 */
        PUSH, 2, STORE, 1,                                        /* 11: d = 2 */
        LOAD, 1, LOAD, 1, MUL, LOAD, 0, PUSH, 1, ADD, LT, JZ, 44, /* 15: while d*d < n+1 */
        LOAD, 0, LOAD, 1, MOD, JZ, 47,                            /* 28: n % d == 0: not prime */
        LOAD, 1, PUSH, 1, ADD, STORE, 1, JMP, 15,                 /* 35: d++ */
        LOAD, 0, PRINT,                                           /* 44: print n */
        LOAD, 0, PUSH, 1, ADD, STORE, 0, JMP, 4,                  /* 47: n++ */
        HALT,                                                     /* 56 */
    };
    int vars[4] = {0};
    int steps = run(primes, vars);
    printf_serial("\nsteps %d\n", steps);
    static const int loop[] = {
        PUSH, 0, STORE, 0, PUSH, 0, STORE, 1,          /* 0: i = 0, s = 0 */
        LOAD, 0, PUSH, 20000, LT, JZ, 34,              /* 8: while i < 20000 */
        LOAD, 1, LOAD, 0, PUSH, 7, MUL, ADD, STORE, 1, /* 15: s += i * 7 */
        LOAD, 0, PUSH, 1, ADD, STORE, 0, JMP, 8,       /* 25: i++ */
        HALT,                                          /* 34 */
    };
    steps = run(loop, vars);
    printf_serial("sum %d steps %d\n", vars[1], steps);
    return 0;
}
