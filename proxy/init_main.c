#include "px/init.h"

int main(int argc, char **argv)
{
    return px_init_main(argc, argv);
}
