/* Lets valgrind 3.19 run a Swift server (Benchmarks/instructions). Swift's async main ends in
 * libdispatch's dispatch_main, which parks the main thread in sigsuspend() on a mask that is a
 * `static const` (read-only memory); valgrind's sigsuspend wrapper edits the mask it is given in
 * place and dies of its own SIGSEGV. Preloaded, this hands the real sigsuspend a writable copy.
 * Not part of HotDesk: built and preloaded only by the benchmark. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>

int sigsuspend(const sigset_t *mask) {
    static int (*real)(const sigset_t *);
    if (!real) real = (int (*)(const sigset_t *))dlsym(RTLD_NEXT, "sigsuspend");
    sigset_t copy = *mask;
    return real(&copy);
}
