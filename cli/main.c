#include "cli/cli.h"

int main(int argc, char **argv)
{
    cli_io_t io = {stdin, stdout, stderr};
    return cli_main(argc, argv, &io);
}
