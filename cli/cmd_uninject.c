/* `cmesh uninject [-o yaml|json] FILE|-`: removes what `cmesh inject` added. */
#include "cli/cli.h"

int cli__inject_run(int argc, char **argv, cli_io_t *io, int uninject);

int cli_cmd_uninject(int argc, char **argv, cli_io_t *io)
{
    return cli__inject_run(argc, argv, io, 1);
}
