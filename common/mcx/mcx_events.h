/* The MCX notification channel's view of a UCWA event package: which notifications
 * (docs/mcx-protocol.md, GetNotifications) its events make. No httpd, no I/O: presence
 * notifications name the resource the caller reads for the current state. */
#ifndef MCX_EVENTS_H
#define MCX_EVENTS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

typedef enum {
    MCX_N_PRESENCE = 0,        /* a contact's presence or note (fetch: its presence) */
    MCX_N_MY_PRESENCE,         /* the user's own (fetch: me/presence) */
    MCX_N_INVITATION,
    MCX_N_INVITATION_RESULT,
    MCX_N_MESSAGE,
    MCX_N_TYPING,
    MCX_N_ENDED,
    MCX_N_POLICY
} mcx_note_kind;

typedef struct {
    mcx_note_kind kind;
    const char *uri;           /* Presence: the contact; Invitation, Message, Typing: the sender */
    const char *name;          /* display name, or NULL */
    const char *conversation, *invitation;
    const char *subject;
    const char *result;        /* InvitationResult */
    const char *text;          /* Invitation's first message, Message's text (UTF-8) */
    int html;                  /* the text is HTML */
    apr_uint32_t number;       /* Message */
    const char *fetch;         /* Presence, MyPresence: the href to read (application-relative
                                * hrefs are absolute paths, as UCWA gives them) */
} mcx_note;

typedef struct {
    apr_uint32_t sequence, next;
    int resync, resume;
    apr_array_header_t *notes; /* mcx_note, in event order; presence of one contact once */
} mcx_batch;

/* Converts pkg (a UCWA event package). 0, or -1 with a fixed reason in *why when the
 * package is not one (no self link with an ack). */
int mcx_events_convert(apr_pool_t *p, const json_t *pkg, mcx_batch *out, const char **why);

/* The last path segment of href (after the last '/', before any '?'), or NULL. */
const char *mcx_href_tail(apr_pool_t *p, const char *href);

#endif
