/* core-round-trip: the time a cache line takes to go from CPU 0 to CPU 1 and back (two threads
 * pinned there, passing a flag), in nanoseconds. bench/run.sh prints it beside its tables: two
 * threads of msntap hand work to each other, and on a virtual machine whose host places the two
 * vCPUs now on cores sharing a cache (about 60 ns on the Zen 4 test machine), now on cores that
 * do not (about 350 ns), the same run takes different times (docs/performance.md). */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#define ROUNDS 200000
static _Alignas(64) atomic_int flag;

static int pin(int cpu) {
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    return pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

static void *echo(void *unused) {
    (void)unused;
    pin(1);
    for (int i = 0; i < ROUNDS; i++) {
        while (atomic_load_explicit(&flag, memory_order_acquire) != 1) {
        }
        atomic_store_explicit(&flag, 0, memory_order_release);
    }
    return NULL;
}

int main(void) {
    pthread_t t;
    if (pin(0) != 0) {
        fprintf(stderr, "core-round-trip: cannot run on CPU 0\n");
        return 1;
    }
    if (pthread_create(&t, NULL, echo, NULL) != 0) {
        return 1;
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < ROUNDS; i++) {
        atomic_store_explicit(&flag, 1, memory_order_release);
        while (atomic_load_explicit(&flag, memory_order_acquire) != 0) {
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    pthread_join(t, NULL);
    printf("%.0f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / ROUNDS);
    return 0;
}
