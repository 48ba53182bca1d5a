/* cmesh-proxy-init: flags, the iptables plan, and running it; see px/init.h. */
#include "px/init.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mesh/log.h"
#include "mesh/mem.h"
#include "mesh/portlist.h"

#define REDIRECT_CHAIN "PROXY_INIT_REDIRECT"
#define OUTPUT_CHAIN "PROXY_INIT_OUTPUT"
#define CLOSE_WAIT_SYSCTL "/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_close_wait"

void px_init_config_init(px_init_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->incoming_proxy_port = 4143;
    cfg->outgoing_proxy_port = 4140;
    cfg->proxy_uid = -1;
    cfg->proxy_gid = -1;
    cfg->mode = PX_INIT_MODE_NFT;
}

void px_init_config_free(px_init_config_t *cfg)
{
    for (int i = 0; i < cfg->subnets_ignore.n; i++)
        MESH_FREE(&cfg->subnets_ignore.cidr[i]);
    MESH_FREE(&cfg->netns);
    MESH_FREE(&cfg->firewall_bin);
    MESH_FREE(&cfg->firewall_save_bin);
    MESH_FREE(&cfg->log_format);
    MESH_FREE(&cfg->log_level);
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    if (*s == '\0' || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Validates "ADDR/LEN" (LEN optional: a host) and stores it normalised. */
static int add_subnet(px_init_subnets_t *sn, const char *s)
{
    char addr[64];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    unsigned char tmp[16];
    unsigned long plen;
    int v6;

    if (alen == 0 || alen >= sizeof(addr) || sn->n >= PX_INIT_MAX_SUBNETS)
        return -1;
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    if (inet_pton(AF_INET, addr, tmp) == 1)
        v6 = 0;
    else if (inet_pton(AF_INET6, addr, tmp) == 1)
        v6 = 1;
    else
        return -1;
    if (slash) {
        if (parse_uint(slash + 1, v6 ? 128 : 32, &plen))
            return -1;
    } else {
        plen = v6 ? 128 : 32;
    }
    char norm[80];
    snprintf(norm, sizeof(norm), "%s/%lu", addr, plen);
    sn->cidr[sn->n] = mesh_strdup(norm);
    if (sn->cidr[sn->n] == NULL)
        return -1;
    sn->is_v6[sn->n] = v6;
    sn->n++;
    return 0;
}

static int parse_subnets(const char *s, px_init_subnets_t *sn)
{
    char buf[4096];
    size_t len = strlen(s);
    if (len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len + 1);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (*tok == '\0')
            continue;
        if (add_subnet(sn, tok) != 0)
            return -1;
    }
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
        *out = 1;
    else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

enum flag_kind { F_PORT, F_ID, F_PORTS, F_SUBNETS, F_BOOL, F_STR, F_MODE, F_SECS };

struct flag {
    const char *name;
    char shorthand;
    enum flag_kind kind;
    size_t off;
    const char *help;
};

#define OFF(f) offsetof(px_init_config_t, f)
static const struct flag flags[] = {
    {"incoming-proxy-port", 'p', F_PORT, OFF(incoming_proxy_port), "port the inbound proxy listens on (4143)"},
    {"outgoing-proxy-port", 'o', F_PORT, OFF(outgoing_proxy_port), "port the outbound proxy listens on (4140)"},
    {"proxy-uid", 'u', F_ID, OFF(proxy_uid), "uid the proxy runs as; its traffic is not redirected"},
    {"proxy-gid", 'g', F_ID, OFF(proxy_gid), "gid the proxy runs as; its traffic is not redirected"},
    {"ports-to-redirect", 'r', F_PORTS, OFF(ports_to_redirect), "inbound ports to redirect (default: all)"},
    {"inbound-ports-to-ignore", 0, F_PORTS, OFF(inbound_ignore), "inbound ports and ranges not redirected"},
    {"outbound-ports-to-ignore", 0, F_PORTS, OFF(outbound_ignore), "outbound ports and ranges not redirected"},
    {"subnets-to-ignore", 0, F_SUBNETS, OFF(subnets_ignore), "CIDRs whose traffic is not redirected"},
    {"simulate", 0, F_BOOL, OFF(simulate), "print the commands instead of running them"},
    {"netns", 0, F_STR, OFF(netns), "network namespace to program (path or name)"},
    {"use-wait-flag", 'w', F_BOOL, OFF(use_wait_flag), "pass -w to iptables (wait for the xtables lock)"},
    {"timeout-close-wait-secs", 0, F_SECS, OFF(timeout_close_wait_secs), "conntrack CLOSE_WAIT timeout to set"},
    {"iptables-mode", 0, F_MODE, OFF(mode), "legacy, nft or plain"},
    {"ipv6", 0, F_BOOL, OFF(ipv6), "also program ip6tables"},
    {"firewall-bin-path", 0, F_STR, OFF(firewall_bin), "iptables binary to run"},
    {"firewall-save-bin-path", 0, F_STR, OFF(firewall_save_bin), "iptables-save binary to run"},
    {"log-format", 0, F_STR, OFF(log_format), "plain or json"},
    {"log-level", 0, F_STR, OFF(log_level), "error, warn, info, debug or trace"},
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: cmesh-proxy-init [flags]\n\nSets the iptables rules that send a pod's "
                 "traffic through its proxy.\n\nFlags:\n");
    for (size_t i = 0; i < MESH_ARRAY_LEN(flags); i++) {
        char sh[8] = "";
        if (flags[i].shorthand)
            snprintf(sh, sizeof(sh), "-%c, ", flags[i].shorthand);
        fprintf(out, "  %4s--%-26s %s\n", sh, flags[i].name, flags[i].help);
    }
}

static int set_flag(px_init_config_t *cfg, const struct flag *f, const char *v, mesh_buf_t *errors)
{
    char *base = (char *)cfg + f->off;
    unsigned long u;
    int b;

    switch (f->kind) {
    case F_PORT:
        if (parse_uint(v, 65535, &u) || u == 0)
            goto bad;
        *(unsigned *)base = (unsigned)u;
        return 0;
    case F_ID:
        if (parse_uint(v, 4294967294UL, &u))
            goto bad;
        *(long *)base = (long)u;
        return 0;
    case F_SECS:
        if (parse_uint(v, 86400UL * 365, &u))
            goto bad;
        *(long *)base = (long)u;
        return 0;
    case F_PORTS: {
        px_init_ports_t *p = (px_init_ports_t *)base;
        p->n = mesh_portlist_parse(v, 0, p->r, PX_INIT_MAX_PORTS);
        if (p->n < 0) {
            p->n = 0;
            goto bad;
        }
        return 0;
    }
    case F_SUBNETS:
        if (parse_subnets(v, (px_init_subnets_t *)base))
            goto bad;
        return 0;
    case F_BOOL:
        if (parse_bool(v, &b))
            goto bad;
        *(int *)base = b;
        return 0;
    case F_STR: {
        char **dst = (char **)base;
        mesh_free(*dst);
        *dst = mesh_strdup(v);
        return *dst ? 0 : -1;
    }
    case F_MODE:
        if (strcmp(v, "nft") == 0)
            *(px_init_mode_t *)base = PX_INIT_MODE_NFT;
        else if (strcmp(v, "legacy") == 0)
            *(px_init_mode_t *)base = PX_INIT_MODE_LEGACY;
        else if (strcmp(v, "plain") == 0)
            *(px_init_mode_t *)base = PX_INIT_MODE_PLAIN;
        else
            goto bad;
        return 0;
    }
bad:
    (void)mesh_buf_appendf(errors, "invalid value \"%s\" for --%s\n", v, f->name);
    return -1;
}

int px_init_parse_args(px_init_config_t *cfg, int argc, char **argv, mesh_buf_t *errors, FILE *out)
{
    int nerr = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const struct flag *f = NULL;
        const char *val = NULL;

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(out);
            return -1;
        }
        if (a[0] == '-' && a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
            for (size_t k = 0; k < MESH_ARRAY_LEN(flags); k++)
                if (strlen(flags[k].name) == nlen && strncmp(flags[k].name, name, nlen) == 0)
                    f = &flags[k];
            if (eq)
                val = eq + 1;
        } else if (a[0] == '-' && a[1] != '\0' && a[2] == '\0') {
            for (size_t k = 0; k < MESH_ARRAY_LEN(flags); k++)
                if (flags[k].shorthand == a[1])
                    f = &flags[k];
        }
        if (f == NULL) {
            (void)mesh_buf_appendf(errors, "unknown flag \"%s\"\n", a);
            nerr++;
            continue;
        }
        if (val == NULL) {
            if (f->kind == F_BOOL) {
                val = "true";
            } else if (i + 1 < argc) {
                val = argv[++i];
            } else {
                (void)mesh_buf_appendf(errors, "flag --%s needs a value\n", f->name);
                nerr++;
                continue;
            }
        }
        if (set_flag(cfg, f, val, errors) != 0)
            nerr++;
    }
    if (cfg->incoming_proxy_port == cfg->outgoing_proxy_port) {
        (void)mesh_buf_appendf(errors, "--incoming-proxy-port and --outgoing-proxy-port must differ\n");
        nerr++;
    }
    return nerr;
}

/* --- the plan ------------------------------------------------------------ */

static px_init_cmd_t *cmd_new(px_init_plan_t *plan, const px_init_config_t *cfg, const char *bin)
{
    if (plan->n >= PX_INIT_MAX_CMDS)
        return NULL;
    px_init_cmd_t *c = &plan->cmd[plan->n++];
    memset(c, 0, sizeof(*c));
    c->argv[c->argc++] = mesh_xstrdup(bin);
    if (cfg->use_wait_flag)
        c->argv[c->argc++] = mesh_xstrdup("-w");
    c->argv[c->argc++] = mesh_xstrdup("-t");
    c->argv[c->argc++] = mesh_xstrdup("nat");
    return c;
}

static void cmd_add(px_init_cmd_t *c, const char *arg)
{
    if (c->argc < PX_INIT_MAX_ARGS)
        c->argv[c->argc++] = mesh_xstrdup(arg);
}

static void cmd_addv(px_init_cmd_t *c, const char *const *args)
{
    for (; *args; args++)
        cmd_add(c, *args);
}

static void cmd_comment(px_init_cmd_t *c, const char *what)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "proxy-init/%s", what);
    cmd_addv(c, (const char *const[]){"-m", "comment", "--comment", buf, NULL});
}

static const char *firewall_bin(const px_init_config_t *cfg, int ipv6)
{
    if (cfg->firewall_bin && !ipv6)
        return cfg->firewall_bin;
    switch (cfg->mode) {
    case PX_INIT_MODE_LEGACY:
        return ipv6 ? "ip6tables-legacy" : "iptables-legacy";
    case PX_INIT_MODE_PLAIN:
        return ipv6 ? "ip6tables" : "iptables";
    case PX_INIT_MODE_NFT:
    default:
        return ipv6 ? "ip6tables-nft" : "iptables-nft";
    }
}

/* Emits "RETURN for these ports" rules, PX_INIT_MULTIPORT_MAX slots each (a
 * range takes two slots in the multiport match). */
static int add_port_rules(px_init_plan_t *plan, const px_init_config_t *cfg, const char *bin,
                          const char *chain, const px_init_ports_t *ports, const char *target,
                          const char *to_port, const char *what)
{
    int i = 0;
    while (i < ports->n) {
        char list[512] = "";
        size_t used = 0;
        int slots = 0;
        while (i < ports->n) {
            int need = ports->r[i].lo == ports->r[i].hi ? 1 : 2;
            if (slots + need > PX_INIT_MULTIPORT_MAX)
                break;
            char one[16];
            if (ports->r[i].lo == ports->r[i].hi)
                snprintf(one, sizeof(one), "%s%u", slots ? "," : "", ports->r[i].lo);
            else
                snprintf(one, sizeof(one), "%s%u:%u", slots ? "," : "", ports->r[i].lo,
                         ports->r[i].hi);
            size_t ol = strlen(one);
            memcpy(list + used, one, ol + 1);
            used += ol;
            slots += need;
            i++;
        }
        px_init_cmd_t *c = cmd_new(plan, cfg, bin);
        if (c == NULL)
            return -1;
        cmd_addv(c, (const char *const[]){"-A", chain, "-p", "tcp", "--match", "multiport",
                                          "--dports", list, "-j", target, NULL});
        if (to_port)
            cmd_addv(c, (const char *const[]){"--to-port", to_port, NULL});
        char comment[600];
        snprintf(comment, sizeof(comment), "%s-%s", what, list);
        cmd_comment(c, comment);
    }
    return 0;
}

/* RETURN for the ignored subnets of this family: by source inbound ("-s"),
 * by destination outbound ("-d"). */
static int add_subnet_rules(px_init_plan_t *plan, const px_init_config_t *cfg, const char *bin,
                            const char *chain, const char *match, int ipv6)
{
    for (int i = 0; i < cfg->subnets_ignore.n; i++) {
        if (cfg->subnets_ignore.is_v6[i] != ipv6)
            continue;
        px_init_cmd_t *c = cmd_new(plan, cfg, bin);
        if (c == NULL)
            return -1;
        cmd_addv(c, (const char *const[]){"-A", chain, "-p", "tcp", match,
                                          cfg->subnets_ignore.cidr[i], "-j", "RETURN", NULL});
        char what[120];
        snprintf(what, sizeof(what), "ignore-subnet-%s", cfg->subnets_ignore.cidr[i]);
        cmd_comment(c, what);
    }
    return 0;
}

int px_init_build(const px_init_config_t *cfg, int ipv6, px_init_plan_t *plan)
{
    const char *bin = firewall_bin(cfg, ipv6);
    char in_port[8], out_port[8], id[24];
    px_init_cmd_t *c;

    plan->n = 0;
    snprintf(in_port, sizeof(in_port), "%u", cfg->incoming_proxy_port);
    snprintf(out_port, sizeof(out_port), "%u", cfg->outgoing_proxy_port);

    /* Create the chains (fails harmlessly when they exist), flush them, and
     * drop any jumps an earlier run installed, so a rerun converges. */
    const char *chains[2] = {REDIRECT_CHAIN, OUTPUT_CHAIN};
    const char *hooks[2] = {"PREROUTING", "OUTPUT"};
    for (int k = 0; k < 2; k++) {
        if (!(c = cmd_new(plan, cfg, bin)))
            return -1;
        cmd_addv(c, (const char *const[]){"-N", chains[k], NULL});
        c->may_fail = 1;
        if (!(c = cmd_new(plan, cfg, bin)))
            return -1;
        cmd_addv(c, (const char *const[]){"-F", chains[k], NULL});
        if (!(c = cmd_new(plan, cfg, bin)))
            return -1;
        cmd_addv(c, (const char *const[]){"-D", hooks[k], "-j", chains[k], NULL});
        cmd_comment(c, k == 0 ? "install-proxy-init-prerouting" : "install-proxy-init-output");
        c->may_fail = 1;
        c->repeat = 16;
    }

    /* Inbound. */
    if (add_port_rules(plan, cfg, bin, REDIRECT_CHAIN, &cfg->inbound_ignore, "RETURN", NULL,
                       "ignore-port") != 0)
        return -1;
    if (add_subnet_rules(plan, cfg, bin, REDIRECT_CHAIN, "-s", ipv6) != 0)
        return -1;
    if (cfg->ports_to_redirect.n > 0) {
        if (add_port_rules(plan, cfg, bin, REDIRECT_CHAIN, &cfg->ports_to_redirect, "REDIRECT",
                           in_port, "redirect-port") != 0)
            return -1;
    } else {
        if (!(c = cmd_new(plan, cfg, bin)))
            return -1;
        cmd_addv(c, (const char *const[]){"-A", REDIRECT_CHAIN, "-p", "tcp", "-j", "REDIRECT",
                                          "--to-port", in_port, NULL});
        cmd_comment(c, "redirect-all-incoming-to-proxy-port");
    }
    if (!(c = cmd_new(plan, cfg, bin)))
        return -1;
    cmd_addv(c, (const char *const[]){"-A", "PREROUTING", "-j", REDIRECT_CHAIN, NULL});
    cmd_comment(c, "install-proxy-init-prerouting");

    /* Outbound: the proxy's own traffic and loopback go out untouched. */
    if (cfg->proxy_uid >= 0) {
        if (!(c = cmd_new(plan, cfg, bin)))
            return -1;
        snprintf(id, sizeof(id), "%ld", cfg->proxy_uid);
        cmd_addv(c, (const char *const[]){"-A", OUTPUT_CHAIN, "-m", "owner", "--uid-owner", id,
                                          "-j", "RETURN", NULL});
        cmd_comment(c, "ignore-proxy-user-id");
    }
    if (cfg->proxy_gid >= 0) {
        if (!(c = cmd_new(plan, cfg, bin)))
            return -1;
        snprintf(id, sizeof(id), "%ld", cfg->proxy_gid);
        cmd_addv(c, (const char *const[]){"-A", OUTPUT_CHAIN, "-m", "owner", "--gid-owner", id,
                                          "-j", "RETURN", NULL});
        cmd_comment(c, "ignore-proxy-group-id");
    }
    if (!(c = cmd_new(plan, cfg, bin)))
        return -1;
    cmd_addv(c, (const char *const[]){"-A", OUTPUT_CHAIN, "-o", "lo", "-j", "RETURN", NULL});
    cmd_comment(c, "ignore-loopback");
    if (add_port_rules(plan, cfg, bin, OUTPUT_CHAIN, &cfg->outbound_ignore, "RETURN", NULL,
                       "ignore-port") != 0)
        return -1;
    if (add_subnet_rules(plan, cfg, bin, OUTPUT_CHAIN, "-d", ipv6) != 0)
        return -1;
    if (!(c = cmd_new(plan, cfg, bin)))
        return -1;
    cmd_addv(c, (const char *const[]){"-A", OUTPUT_CHAIN, "-p", "tcp", "-j", "REDIRECT",
                                      "--to-port", out_port, NULL});
    cmd_comment(c, "redirect-all-outgoing-to-proxy-port");
    if (!(c = cmd_new(plan, cfg, bin)))
        return -1;
    cmd_addv(c, (const char *const[]){"-A", "OUTPUT", "-j", OUTPUT_CHAIN, NULL});
    cmd_comment(c, "install-proxy-init-output");
    return 0;
}

void px_init_plan_free(px_init_plan_t *plan)
{
    for (int i = 0; i < plan->n; i++)
        for (int k = 0; k < plan->cmd[i].argc; k++)
            MESH_FREE(&plan->cmd[i].argv[k]);
    plan->n = 0;
}

static int needs_quotes(const char *s)
{
    if (*s == '\0')
        return 1;
    for (; *s; s++)
        if (!(strchr("-_./:,=+@%", *s) || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
              (*s >= 'A' && *s <= 'Z')))
            return 1;
    return 0;
}

int px_init_plan_format(const px_init_plan_t *plan, mesh_buf_t *out)
{
    for (int i = 0; i < plan->n; i++) {
        for (int k = 0; k < plan->cmd[i].argc; k++) {
            const char *a = plan->cmd[i].argv[k];
            if (k > 0 && mesh_buf_append(out, " ", 1))
                return -1;
            if (needs_quotes(a)) {
                if (mesh_buf_append(out, "'", 1))
                    return -1;
                for (const char *p = a; *p; p++) {
                    if (*p == '\'' ? mesh_buf_appends(out, "'\\''") : mesh_buf_append(out, p, 1))
                        return -1;
                }
                if (mesh_buf_append(out, "'", 1))
                    return -1;
            } else if (mesh_buf_appends(out, a)) {
                return -1;
            }
        }
        if (mesh_buf_append(out, "\n", 1))
            return -1;
    }
    return 0;
}

/* --- running ------------------------------------------------------------- */

static int enter_netns(const char *ns)
{
    char path[512];
    if (strchr(ns, '/'))
        snprintf(path, sizeof(path), "%s", ns);
    else
        snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        mesh_log_error("init", "cannot open network namespace %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = setns(fd, CLONE_NEWNET);
    int saved = errno;
    close(fd);
    if (rc != 0) {
        mesh_log_error("init", "cannot enter network namespace %s: %s", path, strerror(saved));
        return -1;
    }
    return 0;
}

/* Runs argv, output to our stderr (or nowhere when `quiet`: an expected
 * failure would only confuse the reader); returns its exit status or -1. */
static int run_cmd(char *const *argv, int quiet)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (quiet) {
            int nul = open("/dev/null", O_WRONLY);
            if (nul >= 0)
                dup2(nul, 2);
        }
        dup2(2, 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int px_init_run(const px_init_config_t *cfg, const px_init_plan_t *plan)
{
    if (cfg->netns && enter_netns(cfg->netns) != 0)
        return -1;
    for (int i = 0; i < plan->n; i++) {
        const px_init_cmd_t *c = &plan->cmd[i];
        int times = c->repeat > 0 ? c->repeat : 1;
        for (int t = 0; t < times; t++) {
            int rc = run_cmd(c->argv, c->may_fail);
            if (rc == 127) {
                mesh_log_error("init", "cannot run %s: not found", c->argv[0]);
                return -1;
            }
            if (rc != 0) {
                if (c->may_fail)
                    break;
                mesh_buf_t line = MESH_BUF_INIT;
                px_init_plan_t one = {.n = 1};
                one.cmd[0] = *c;
                if (px_init_plan_format(&one, &line) == 0)
                    mesh_log_error("init", "command failed (exit %d): %s", rc, line.base);
                mesh_buf_free(&line);
                return -1;
            }
        }
    }
    if (cfg->timeout_close_wait_secs > 0) {
        int fd = open(CLOSE_WAIT_SYSCTL, O_WRONLY | O_CLOEXEC);
        char v[24];
        int n = snprintf(v, sizeof(v), "%ld\n", cfg->timeout_close_wait_secs);
        if (fd < 0 || write(fd, v, (size_t)n) != n) {
            mesh_log_error("init", "cannot set %s: %s", CLOSE_WAIT_SYSCTL, strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
        close(fd);
    }
    return 0;
}

int px_init_main(int argc, char **argv)
{
    px_init_config_t cfg;
    mesh_buf_t errors = MESH_BUF_INIT;
    int rc = 1;

    mesh_log_set_component("proxy-init");
    px_init_config_init(&cfg);
    int nerr = px_init_parse_args(&cfg, argc, argv, &errors, stdout);
    if (nerr < 0) {
        rc = 0;
        goto out;
    }
    if (cfg.log_level && mesh_log_set_filter(cfg.log_level) != 0) {
        (void)mesh_buf_appendf(&errors, "invalid value \"%s\" for --log-level\n", cfg.log_level);
        nerr++;
    }
    if (cfg.log_format && mesh_log_set_format_str(cfg.log_format) != 0) {
        (void)mesh_buf_appendf(&errors, "invalid value \"%s\" for --log-format\n", cfg.log_format);
        nerr++;
    }
    if (nerr > 0) {
        fprintf(stderr, "cmesh-proxy-init: %d error(s):\n%s", nerr, errors.base);
        rc = 2;
        goto out;
    }
    for (int v6 = 0; v6 <= cfg.ipv6; v6++) {
        px_init_plan_t *plan = mesh_xcalloc(1, sizeof(*plan));
        mesh_buf_t text = MESH_BUF_INIT;
        int ok = px_init_build(&cfg, v6, plan) == 0 && px_init_plan_format(plan, &text) == 0;
        if (!ok) {
            mesh_log_error("init", "too many rules for one run (limit %d commands)", PX_INIT_MAX_CMDS);
        } else if (cfg.simulate) {
            fputs(text.base, stdout);
        } else {
            mesh_log_info("init", "programming %s", v6 ? "ip6tables" : "iptables");
            ok = px_init_run(&cfg, plan) == 0;
        }
        mesh_buf_free(&text);
        px_init_plan_free(plan);
        mesh_free(plan);
        if (!ok)
            goto out;
    }
    if (!cfg.simulate && cfg.firewall_save_bin == NULL)
        mesh_log_info("init", "rules installed");
    rc = 0;
out:
    mesh_buf_free(&errors);
    px_init_config_free(&cfg);
    return rc;
}
