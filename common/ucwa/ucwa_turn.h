/* Media relay credentials (UCWA's mediaRelayAccessToken) for a standard TURN server with
 * the TURN REST shared-secret scheme (coturn's use-auth-secret, the one WebRTC services
 * use): the server keeps no user list; it recomputes the password from the user name and
 * the secret it shares with us, and refuses a user name whose time has passed.
 *
 *   userName = "<expiry, unix seconds>:<sip address without sip:>"
 *   password = base64(HMAC-SHA1(secret, userName))
 *
 * Also the UCWA resources that carry them: mediaRelayAccessToken with its mediaRelay
 * list, and mediaPolicies. Pure: no httpd. */
#ifndef UCWA_TURN_H
#define UCWA_TURN_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>

#define UCWA_TURN_SECRET_MAX 1024      /* bytes of shared secret accepted */
#define UCWA_TURN_HOST_MAX 253         /* a DNS name or an address */
#define UCWA_TURN_MINUTES_MAX 10080    /* a week: UcwaTurnTokenLifetime's ceiling */
#define UCWA_TURN_MINUTES_DEFAULT 480  /* 8 hours, as Skype for Business's MRAS */

/* One relay: UcwaTurnServer host [udpPort [tcpPort]]. A port of -1 is not offered (UCWA
 * renders it -1: "not set"). */
typedef struct {
    const char *host;
    int udp_port;
    int tcp_port;
} ucwa_turn_server;

/* Parses the arguments of UcwaTurnServer: host (a DNS name, an IPv4 address or an IPv6
 * address, at most UCWA_TURN_HOST_MAX characters), udp (NULL: 3478) and tcp (NULL: the
 * UDP port), each a port 1-65535 or "-" for none (not both). NULL, or the error message. */
const char *ucwa_turn_server_parse(apr_pool_t *p, const char *host, const char *udp,
                                   const char *tcp, ucwa_turn_server *out);

/* The shared secret from a file's content: the first line, without its line end and
 * trailing blanks. NULL with *err when it is empty, longer than UCWA_TURN_SECRET_MAX or
 * holds a control character. */
const char *ucwa_turn_secret_parse(apr_pool_t *p, const char *text, apr_size_t len,
                                   const char **err);

typedef struct {
    const char *user_name;
    const char *password;
    apr_time_t valid_until;     /* whole seconds */
    unsigned minutes;           /* the lifetime it was minted for */
} ucwa_turn_token;

/* Mints the credentials of user (lower case, without "sip:") valid for minutes from now
 * (1 to UCWA_TURN_MINUTES_MAX). APR_SUCCESS, or APR_EINVAL (no secret, no user, a user
 * with ':' or a control character, minutes out of range) or APR_EGENERAL (OpenSSL). */
apr_status_t ucwa_turn_mint(apr_pool_t *p, const char *secret, const char *user,
                            apr_time_t now, unsigned minutes, ucwa_turn_token *out);

/* The mediaRelayAccessToken resource: userName, password, duration (minutes), validUntil
 * ("/Date(ms)/"), uri ("sip:" user), _links.self = base + "/communication/
 * mediaRelayAccessToken", and _embedded.mediaRelay[]: one per server, with host, ipv4 or
 * ipv6 when host is that literal, udpPort, tcpPort, and location: "Intranet" when the
 * request came in on the internal web site, "Internet" on the external one (the values
 * of UCWA's samples and of MRAS's <location>). Owned by p. */
json_t *ucwa_turn_render(apr_pool_t *p, const ucwa_turn_token *t, const char *user,
                         const ucwa_turn_server *servers, int n, int external,
                         const char *base);

/* The mediaPolicies resource (base + "/communication/mediaPolicies"): only what this
 * server decides, with values UCWA documents: audioVideoEncryption "Supported" (the SDP is
 * relayed as it is: the endpoints negotiate SRTP, we enforce nothing), audioBypass,
 * portRange, qualityOfService and multiViewJoin "Disabled" (no media bypass gateway, the
 * client picks its ports, no DSCP marking asked, no meetings), video "Enabled", or
 * "Disabled" when the mobility policy forbids video (video_enabled 0). Owned by p. */
json_t *ucwa_turn_media_policies(apr_pool_t *p, int video_enabled, const char *base);

#endif
