/* Accept-header negotiation for the Autodiscover representations. */
#ifndef MOB_NEGOTIATE_H
#define MOB_NEGOTIATE_H

typedef enum {
    MOB_FMT_NONE = 0,   /* nothing acceptable: 406 */
    MOB_FMT_HAL_JSON,   /* application/json, any wildcard, or no Accept at all */
    MOB_FMT_AD_XML,     /* application/vnd.microsoft.rtc.autodiscover+xml;v=1 */
    MOB_FMT_AD_JSON,    /* application/vnd.microsoft.rtc.autodiscover+json;v=1 */
    MOB_FMT_UCWA_XML    /* application/xml, text/xml, text/html: UCWA <resource> form */
} mob_format;

/* Longest Accept value considered; longer headers are not acceptable. */
#define MOB_ACCEPT_MAX 4096

/* Picks the representation with the highest q value; on equal q the one listed first.
 * NULL or empty accept means the default (HAL JSON). Never reads past the NUL. */
mob_format mob_negotiate(const char *accept);

/* The Content-Type header value for a representation. */
const char *mob_format_content_type(mob_format f);

#endif
