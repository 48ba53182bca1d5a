/*
 * id/name.h - workload identity names.
 *
 * An identity is SA.NS.serviceaccount.identity.CPNS.TRUSTDOMAIN, where SA and
 * NS are the ServiceAccount and its namespace, CPNS the control-plane
 * namespace and TRUSTDOMAIN the mesh's trust domain. Pure functions.
 */
#ifndef ID_NAME_H
#define ID_NAME_H

#include <stddef.h>

/* 1 when `s` is a DNS-1123 label: 1..63 of [a-z0-9-], alphanumeric at both
 * ends. */
int id_name_is_label(const char *s, size_t n);

/* Writes the identity of service account `sa` in `ns` into out (capacity
 * cap). Returns the length, or -1 when it does not fit. */
int id_name_make(char *out, size_t cap, const char *sa, const char *ns, const char *cpns,
                 const char *trust_domain);

/* Maps a TokenReview username "system:serviceaccount:NS:SA" (exactly four
 * colon-separated parts, NS and SA DNS-1123 labels) to its identity. Returns
 * the length, or -1 when the username has another form or the name does not
 * fit. */
int id_name_from_username(char *out, size_t cap, const char *username, const char *cpns,
                          const char *trust_domain);

#endif
