/* cmesh-identity: see id/daemon.h. */
#include "id/daemon.h"

int main(int argc, char **argv)
{
    return id_daemon_main(argc, argv);
}
