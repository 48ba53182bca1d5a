#include "mesh/embed.h"

#include <string.h>

const struct mesh_embedded_file *mesh_embed_find(const char *path)
{
    for (const struct mesh_embedded_file *f = mesh_embedded; f->path != NULL; f++)
        if (strcmp(f->path, path) == 0)
            return f;
    return NULL;
}
