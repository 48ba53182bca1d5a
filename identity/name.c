/* Identity names; see id/name.h. */
#include "id/name.h"

#include <stdio.h>
#include <string.h>

#include "id/ca.h"

int id_name_is_label(const char *s, size_t n)
{
    if (n == 0 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && !(c == '-' && i > 0 && i + 1 < n))
            return 0;
    }
    return 1;
}

int id_name_make(char *out, size_t cap, const char *sa, const char *ns, const char *cpns,
                 const char *trust_domain)
{
    int n = snprintf(out, cap, "%s.%s.serviceaccount.identity.%s.%s", sa, ns, cpns, trust_domain);
    if (n < 0 || (size_t)n >= cap || n > ID_NAME_MAX)
        return -1;
    return n;
}

int id_name_from_username(char *out, size_t cap, const char *username, const char *cpns,
                          const char *trust_domain)
{
    static const char prefix[] = "system:serviceaccount:";
    if (strncmp(username, prefix, sizeof(prefix) - 1) != 0)
        return -1;
    const char *ns = username + sizeof(prefix) - 1;
    const char *colon = strchr(ns, ':');
    if (colon == NULL)
        return -1;
    const char *sa = colon + 1;
    size_t nslen = (size_t)(colon - ns), salen = strlen(sa);
    /* A fifth part would put a colon in SA, which is not a label. */
    if (!id_name_is_label(ns, nslen) || !id_name_is_label(sa, salen))
        return -1;
    char nsbuf[64];
    memcpy(nsbuf, ns, nslen);
    nsbuf[nslen] = '\0';
    return id_name_make(out, cap, sa, nsbuf, cpns, trust_domain);
}
