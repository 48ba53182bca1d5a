/* cmesh-identity: see id/daemon.h. */
#include <malloc.h>

#include "id/daemon.h"

/* glibc gives every thread that allocates its own arena (up to 8 per core),
 * each keeping freed memory of its own; the daemon's threads allocate little
 * and briefly, so two arenas hold the heap without the contention mattering
 * (measured with bench/identity_bench.sh). */
#define ID_MALLOC_ARENAS 2

int main(int argc, char **argv)
{
    mallopt(M_ARENA_MAX, ID_MALLOC_ARENAS);
    return id_daemon_main(argc, argv);
}
