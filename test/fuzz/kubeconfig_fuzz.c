/* libFuzzer driver for kubeconfig loading: YAML to JSON (mesh/yamljson.h)
 * and the kubeconfig interpretation (mesh/k8s_config.h). The input is
 * written to an in-memory file so the real file path code runs. */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mesh/k8s_config.h"
#include "mesh/yamljson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *docs;
    char err[512];
    if (mesh_yaml_load_all((const char *)data, size, &docs, err, sizeof(err)) == 0)
        json_decref(docs);
    int fd = memfd_create("kubeconfig", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) == (ssize_t)size) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        mesh_k8s_config_t *c = NULL;
        if (mesh_k8s_config_from_kubeconfig(path, NULL, &c, err, sizeof(err)) == 0)
            mesh_k8s_config_free(c);
    }
    close(fd);
    return 0;
}
