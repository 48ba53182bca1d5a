/*
 * px/init.h - cmesh-proxy-init: the iptables program that sends a pod's
 * traffic through its proxy (the `linkerd-init` container).
 *
 * The nat table gets two chains of our own:
 *   PROXY_INIT_REDIRECT  (jumped to from PREROUTING): RETURN for inbound ports
 *       and source subnets to ignore, then REDIRECT of all TCP (or only the
 *       --ports-to-redirect) to the inbound proxy port (4143);
 *   PROXY_INIT_OUTPUT    (jumped to from OUTPUT): RETURN for the proxy's own
 *       uid (and gid), for traffic leaving through lo, for outbound ports and
 *       destination subnets to ignore, then REDIRECT of all TCP to the outbound
 *       proxy port (4140).
 * Every rule carries a `proxy-init/<what>` comment. A rerun flushes both chains
 * and removes earlier jumps before adding them again, so it converges to the
 * same table instead of stacking rules.
 *
 * This module parses linkerd-init's flags (as the injector writes them) and
 * builds the list of commands; running them is px_init_run. It does no I/O
 * except in px_init_run.
 */
#ifndef PX_INIT_H
#define PX_INIT_H

#include <stdio.h>

#include "mesh/buf.h"
#include "mesh/portlist.h"

/* Limits: a port list may name at most this many ports/ranges; a subnet list
 * this many CIDRs; iptables' multiport match takes 15 ports per rule. */
#define PX_INIT_MAX_PORTS 256
#define PX_INIT_MAX_SUBNETS 64
#define PX_INIT_MULTIPORT_MAX 15
#define PX_INIT_MAX_ARGS 40
#define PX_INIT_MAX_CMDS 256

typedef enum {
    PX_INIT_MODE_NFT = 0, /* iptables-nft (the default, as Linkerd's HEAD) */
    PX_INIT_MODE_LEGACY,  /* iptables-legacy */
    PX_INIT_MODE_PLAIN,   /* whatever `iptables` is on PATH */
} px_init_mode_t;

/* A port list flag, parsed by mesh/portlist.h ("25,443,1000-2000"; no
 * names, no "1000:2000" form: Linkerd's proxy-init takes neither). */
typedef struct px_init_ports {
    mesh_portlist_item_t r[PX_INIT_MAX_PORTS]; /* ranges, in the order given */
    int n;                                     /* items used in r */
} px_init_ports_t;

typedef struct px_init_subnets {
    char *cidr[PX_INIT_MAX_SUBNETS]; /* owned, validated "ADDR/LEN" text */
    int is_v6[PX_INIT_MAX_SUBNETS];
    int n;
} px_init_subnets_t;

typedef struct px_init_config {
    unsigned incoming_proxy_port;     /* --incoming-proxy-port, -p (4143) */
    unsigned outgoing_proxy_port;     /* --outgoing-proxy-port, -o (4140) */
    long proxy_uid;                   /* --proxy-uid, -u (-1: none) */
    long proxy_gid;                   /* --proxy-gid, -g (-1: none) */
    px_init_ports_t ports_to_redirect; /* --ports-to-redirect, -r (empty: all) */
    px_init_ports_t inbound_ignore;   /* --inbound-ports-to-ignore */
    px_init_ports_t outbound_ignore;  /* --outbound-ports-to-ignore */
    px_init_subnets_t subnets_ignore; /* --subnets-to-ignore */
    int simulate;                     /* --simulate: print, do not run */
    char *netns;                      /* --netns: path or name under /var/run/netns */
    int use_wait_flag;                /* --use-wait-flag, -w: pass -w to iptables */
    long timeout_close_wait_secs;     /* --timeout-close-wait-secs (0: leave alone) */
    px_init_mode_t mode;              /* --iptables-mode */
    int ipv6;                         /* --ipv6: also program ip6tables */
    char *firewall_bin;               /* --firewall-bin-path (NULL: from mode) */
    char *firewall_save_bin;          /* --firewall-save-bin-path (NULL: from mode) */
    char *log_format;                 /* --log-format (plain|json) */
    char *log_level;                  /* --log-level */
} px_init_config_t;

/* One command: argv[0] is the program. Strings are owned. */
typedef struct px_init_cmd {
    char *argv[PX_INIT_MAX_ARGS + 1];
    int argc;
    int may_fail; /* a failure is expected on some runs (e.g. -N of an existing chain) */
    int repeat;   /* run until it fails, at most this many times (removing old jumps) */
} px_init_cmd_t;

typedef struct px_init_plan {
    px_init_cmd_t cmd[PX_INIT_MAX_CMDS];
    int n;
} px_init_plan_t;

void px_init_config_init(px_init_config_t *cfg);
void px_init_config_free(px_init_config_t *cfg);

/* Parses argv (argv[0] is the program name). Every error is appended to
 * `errors`, one line each; returns the number of errors (0 on success), or
 * -1 when --help was asked (usage printed to `out`). */
int px_init_parse_args(px_init_config_t *cfg, int argc, char **argv, mesh_buf_t *errors, FILE *out);

/* Builds the commands for one family (ipv6 = 0 or 1). Returns 0, or -1 when
 * the plan would exceed PX_INIT_MAX_CMDS. */
int px_init_build(const px_init_config_t *cfg, int ipv6, px_init_plan_t *plan);
void px_init_plan_free(px_init_plan_t *plan);

/* Appends the plan as shell-quoted lines to `out` (what --simulate prints). */
int px_init_plan_format(const px_init_plan_t *plan, mesh_buf_t *out);

/* Runs the plan (fork/exec, no shell), entering cfg->netns first if set.
 * Returns 0 or -1 with the failing command logged. */
int px_init_run(const px_init_config_t *cfg, const px_init_plan_t *plan);

/* The whole program: parse, build, simulate or run. Returns the exit code. */
int px_init_main(int argc, char **argv);

#endif
