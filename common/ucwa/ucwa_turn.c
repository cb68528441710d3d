/* Media relay credentials and their UCWA resources (ucwa_turn.h). */
#include <string.h>
#include <arpa/inet.h>
#include <apr_encode.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "mob_json.h"
#include "mob_number.h"
#include "ucwa_conv.h"
#include "ucwa_turn.h"

#define DEFAULT_PORT 3478      /* TURN's registered port, UDP and TCP (RFC 8656) */

/* A port argument: 1-65535, or "-" for none (-1). */
static const char *port_arg(apr_pool_t *p, const char *v, int *out)
{
    apr_int64_t n;
    const char *err;

    if (!strcmp(v, "-")) {
        *out = -1;
        return NULL;
    }
    err = mob_parse_number(p, "UcwaTurnServer", v, 1, 65535, &n);
    if (!err) {
        *out = (int)n;
    }
    return err;
}

const char *ucwa_turn_server_parse(apr_pool_t *p, const char *host, const char *udp,
                                   const char *tcp, ucwa_turn_server *out)
{
    const char *c, *err;
    apr_size_t len = strlen(host);

    if (!len || len > UCWA_TURN_HOST_MAX) {
        return "UcwaTurnServer: a host name or address of 1 to 253 characters";
    }
    for (c = host; *c; c++) {
        if (!apr_isalnum(*c) && *c != '.' && *c != '-' && *c != ':' && *c != '_') {
            return "UcwaTurnServer: the host is a DNS name, an IPv4 or an IPv6 address "
                   "(no brackets, no port)";
        }
    }
    out->host = apr_pstrdup(p, host);
    out->udp_port = DEFAULT_PORT;
    if (udp && (err = port_arg(p, udp, &out->udp_port)) != NULL) {
        return err;
    }
    out->tcp_port = out->udp_port;
    if (tcp && (err = port_arg(p, tcp, &out->tcp_port)) != NULL) {
        return err;
    }
    if (out->udp_port < 0 && out->tcp_port < 0) {
        return "UcwaTurnServer: a relay needs a UDP or a TCP port";
    }
    return NULL;
}

const char *ucwa_turn_secret_parse(apr_pool_t *p, const char *text, apr_size_t len,
                                   const char **err)
{
    apr_size_t n = 0, i;

    while (n < len && text[n] != '\n' && text[n] != '\r') {
        n++;
    }
    while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t')) {
        n--;
    }
    if (!n) {
        *err = "the TURN secret is empty (it is the file's first line)";
        return NULL;
    }
    if (n > UCWA_TURN_SECRET_MAX) {
        *err = "the TURN secret is longer than 1024 bytes";
        return NULL;
    }
    for (i = 0; i < n; i++) {
        if (apr_iscntrl(text[i])) {
            *err = "the TURN secret holds a control character";
            return NULL;
        }
    }
    return apr_pstrmemdup(p, text, n);
}

apr_status_t ucwa_turn_mint(apr_pool_t *p, const char *secret, const char *user,
                            apr_time_t now, unsigned minutes, ucwa_turn_token *out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    apr_int64_t expiry;
    const char *c;

    if (!secret || !*secret || strlen(secret) > UCWA_TURN_SECRET_MAX || !user || !*user
        || minutes < 1 || minutes > UCWA_TURN_MINUTES_MAX) {
        return APR_EINVAL;
    }
    for (c = user; *c; c++) {
        /* coturn splits the user name at its first ':' (the time comes first, so one in
         * the user would still work), but a SIP address has none: refuse what is odd */
        if (*c == ':' || apr_iscntrl(*c)) {
            return APR_EINVAL;
        }
    }
    expiry = apr_time_sec(now) + (apr_int64_t)minutes * 60;
    out->user_name = apr_psprintf(p, "%" APR_INT64_T_FMT ":%s", expiry, user);
    if (!HMAC(EVP_sha1(), secret, (int)strlen(secret), (const unsigned char *)out->user_name,
              strlen(out->user_name), mac, &mac_len)) {
        return APR_EGENERAL;
    }
    out->password = apr_pencode_base64_binary(p, mac, mac_len, APR_ENCODE_NONE, NULL);
    out->valid_until = apr_time_from_sec(expiry);
    out->minutes = minutes;
    return out->password ? APR_SUCCESS : APR_EGENERAL;
}

static json_t *relay(const ucwa_turn_server *s, int external)
{
    unsigned char addr[16];
    json_t *r = json_pack("{s:s,s:s}", "rel", "mediaRelay", "host", s->host);

    if (inet_pton(AF_INET, s->host, addr) == 1) {
        json_object_set_new(r, "ipv4", json_string(s->host));
    }
    else if (inet_pton(AF_INET6, s->host, addr) == 1) {
        json_object_set_new(r, "ipv6", json_string(s->host));
    }
    json_object_set_new(r, "location", json_string(external ? "Internet" : "Intranet"));
    json_object_set_new(r, "udpPort", json_integer(s->udp_port));
    json_object_set_new(r, "tcpPort", json_integer(s->tcp_port));
    return r;
}

json_t *ucwa_turn_render(apr_pool_t *p, const ucwa_turn_token *t, const char *user,
                         const ucwa_turn_server *servers, int n, int external,
                         const char *base)
{
    json_t *res = json_object(), *list = json_array();
    int i;

    json_object_set_new(res, "rel", json_string("mediaRelayAccessToken"));
    json_object_set_new(res, "userName", json_string(t->user_name));
    json_object_set_new(res, "password", json_string(t->password));
    json_object_set_new(res, "duration", json_integer(t->minutes));
    json_object_set_new(res, "validUntil", json_string(ucwa_conv_date(p, t->valid_until)));
    json_object_set_new(res, "uri", json_string(apr_pstrcat(p, "sip:", user, NULL)));
    json_object_set_new(res, "_links", json_pack("{s:{s:s}}", "self", "href",
        apr_pstrcat(p, base, "/communication/mediaRelayAccessToken", NULL)));
    for (i = 0; i < n; i++) {
        json_array_append_new(list, relay(&servers[i], external));
    }
    json_object_set_new(res, "_embedded", json_pack("{s:o}", "mediaRelay", list));
    return mob_json_own(p, res);
}

json_t *ucwa_turn_media_policies(apr_pool_t *p, int video_enabled, const char *base)
{
    return mob_json_own(p, json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:{s:{s:s}}}", "rel", "mediaPolicies",
        "audioVideoEncryption", "Supported", "audioBypass", "Disabled",
        "portRange", "Disabled", "qualityOfService", "Disabled", "multiViewJoin", "Disabled",
        "video", video_enabled ? "Enabled" : "Disabled", "_links", "self", "href",
        apr_pstrcat(p, base, "/communication/mediaPolicies", NULL)));
}
