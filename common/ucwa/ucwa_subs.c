#include <string.h>
#include <strings.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/rand.h>

#include "mob_json.h"
#include "ucwa_subs.h"

#define LOOKUPS_PER_SWEEP 32   /* address lookups of unlinked members, per sweep */

/* --- addresses ----------------------------------------------------------------------- */

/* Well-formed UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static int utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned char c = s[i];
        size_t len, k;
        apr_uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        }
        else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        }
        else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        }
        else {
            return 0;
        }
        if (i + len > n) {
            return 0;
        }
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))
            || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
        i += len;
    }
    return 1;
}

const char *ucwa_subs_address(apr_pool_t *p, const char *uri, int scheme)
{
    char *out, *at = NULL, *c;
    size_t n;
    int ats = 0;

    if (!uri) {
        return NULL;
    }
    if (!strncasecmp(uri, "sip:", 4)) {
        uri += 4;
    }
    else if (scheme) {
        return NULL;
    }
    n = strlen(uri);
    if (n == 0 || n >= UCWA_SIP_MAX || !utf8_ok((const unsigned char *)uri, n)) {
        return NULL;
    }
    out = apr_pstrmemdup(p, uri, n);
    for (c = out; *c; c++) {
        unsigned char b = (unsigned char)*c;
        if (b < 0x21 || b == 0x7f || strchr("\"\\/?#%;<>", b)) {
            return NULL;
        }
        if (b == '@') {
            ats++;
            at = c;
        }
        if (b < 0x80) {
            *c = (char)apr_tolower(b);
        }
    }
    if (ats != 1 || at == out || !at[1]) {
        return NULL;
    }
    for (c = at + 1; *c; c++) {
        if (!((unsigned char)*c < 0x80 && (apr_isalnum(*c) || *c == '-' || *c == '_'
                                           || *c == '.'))) {
            return NULL;
        }
    }
    return out;
}

/* --- the table ----------------------------------------------------------------------- */

static apr_uint32_t max_subs(ucwa_store *s)
{
    return ucwa_store_get_limits(s)->max_subs;
}

apr_uint32_t ucwa_subs_used_locked(ucwa_store *s)
{
    apr_uint32_t end = *ucwa_store_word(s, UCWA_WORD_SUBS_END), n = max_subs(s);

    return end < n ? end : n;
}

apr_uint32_t ucwa_subs_per_app(ucwa_store *s)
{
    const ucwa_store_limits *l = ucwa_store_get_limits(s);
    apr_uint32_t n = l->max_apps ? l->max_subs / l->max_apps : 0;

    return n ? n : 1;
}

int ucwa_subs_live_locked(ucwa_store *s, int idx)
{
    ucwa_sub *sub = ucwa_store_sub(s, idx);
    ucwa_app *a;

    if (sub->state != UCWA_SLOT_LIVE || sub->app >= ucwa_store_max_apps(s)) {
        return 0;
    }
    a = ucwa_store_app(s, (int)sub->app);
    return a->state == UCWA_SLOT_LIVE && a->gen == sub->app_gen;
}

static int of_app(ucwa_store *s, int idx, int app)
{
    return ucwa_store_sub(s, idx)->app == (apr_uint32_t)app && ucwa_subs_live_locked(s, idx);
}

int ucwa_subs_count_locked(ucwa_store *s, int app)
{
    apr_uint32_t i, n = ucwa_subs_used_locked(s);
    int count = 0;

    for (i = 0; i < n; i++) {
        count += of_app(s, (int)i, app);
    }
    return count;
}

int ucwa_subs_find_locked(ucwa_store *s, int app, const char *id)
{
    apr_uint32_t i, n = ucwa_subs_used_locked(s);

    if (!id || strlen(id) != UCWA_SUBS_ID_LEN) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (of_app(s, (int)i, app) && !strcasecmp(ucwa_store_sub(s, (int)i)->id, id)) {
            return (int)i;
        }
    }
    return -1;
}

ucwa_subs_result ucwa_subs_create_locked(ucwa_store *s, int app, apr_interval_time_t duration,
                                  apr_time_t now, int *idx)
{
    apr_uint32_t i, n = ucwa_subs_used_locked(s), gen;
    apr_uint32_t *end = ucwa_store_word(s, UCWA_WORD_SUBS_END);
    int slot = -1, tries;
    ucwa_sub *sub;

    if ((apr_uint32_t)ucwa_subs_count_locked(s, app) >= ucwa_subs_per_app(s)) {
        return UCWA_SUBS_APP_LIMIT;
    }
    for (i = 0; i < n && slot < 0; i++) {
        /* a free slot, or one an ended application left behind */
        if (ucwa_store_sub(s, (int)i)->state != UCWA_SLOT_LIVE || !ucwa_subs_live_locked(s, (int)i)) {
            slot = (int)i;
        }
    }
    if (slot < 0 && n < max_subs(s)) {
        slot = (int)n;      /* past the end, every slot is free */
    }
    if (slot < 0) {
        return UCWA_SUBS_TABLE_FULL;
    }
    if ((apr_uint32_t)slot >= *end) {
        *end = (apr_uint32_t)slot + 1;
    }
    sub = ucwa_store_sub(s, slot);
    gen = sub->gen + 1;
    memset(sub, 0, sizeof(*sub));
    sub->gen = gen;
    sub->app = (apr_uint32_t)app;
    sub->app_gen = ucwa_store_app(s, app)->gen;
    sub->expires = now + duration;
    /* 8 hex digits, random, unique among the application's subscriptions */
    for (tries = 0; tries < 64; tries++) {
        unsigned char r[4] = { 0, 0, 0, 0 };
        apr_uint32_t v;
        if (RAND_bytes(r, sizeof(r)) != 1) {
            r[0] = (unsigned char)(gen + (apr_uint32_t)tries);
            r[1] = (unsigned char)slot;
            r[2] = (unsigned char)((apr_uint32_t)slot >> 8);
            r[3] = (unsigned char)(now >> 4);
        }
        v = (apr_uint32_t)r[0] << 24 | (apr_uint32_t)r[1] << 16 | (apr_uint32_t)r[2] << 8 | r[3];
        apr_snprintf(sub->id, sizeof(sub->id), "%08x", v);
        if (ucwa_subs_find_locked(s, app, sub->id) < 0) {
            break;
        }
    }
    sub->state = UCWA_SLOT_LIVE;
    *idx = slot;
    return UCWA_SUBS_OK;
}

void ucwa_subs_free_locked(ucwa_store *s, int idx)
{
    ucwa_sub *sub = ucwa_store_sub(s, idx);

    sub->state = UCWA_SLOT_FREE;
    sub->count = 0;
    sub->names_len = 0;
}

apr_time_t ucwa_subs_extend_locked(ucwa_store *s, int idx, apr_interval_time_t more, apr_time_t now)
{
    ucwa_sub *sub = ucwa_store_sub(s, idx);
    apr_time_t cap = now + apr_time_from_sec(UCWA_SUBS_MAX_MINUTES * 60);
    apr_time_t end = (sub->expires > now ? sub->expires : now) + more;

    sub->expires = end < cap ? end : cap;
    sub->hinted = 0;
    return sub->expires;
}

const char *ucwa_subs_member_sip(const ucwa_sub *sub, int m)
{
    return sub->names + sub->name_off[m];
}

int ucwa_subs_member_find(const ucwa_sub *sub, const char *sip)
{
    apr_uint32_t m;

    for (m = 0; m < sub->count; m++) {
        if (!strcmp(ucwa_subs_member_sip(sub, (int)m), sip)) {
            return (int)m;
        }
    }
    return -1;
}

int ucwa_subs_member_add_locked(ucwa_store *s, int idx, const char *sip, int *added)
{
    ucwa_sub *sub = ucwa_store_sub(s, idx);
    apr_size_t len = strlen(sip) + 1;
    int m = ucwa_subs_member_find(sub, sip), user;

    *added = 0;
    if (m >= 0) {
        return m;
    }
    if (sub->count >= UCWA_SUB_MEMBERS || sub->names_len + len > UCWA_SUB_NAMES) {
        return -1;
    }
    m = (int)sub->count;
    sub->name_off[m] = (apr_uint16_t)sub->names_len;
    memcpy(sub->names + sub->names_len, sip, len);
    sub->names_len += (apr_uint32_t)len;
    /* a user nobody signed in as yet is a user entry all the same, Offline: whether the
     * address exists in the directory shows nowhere */
    user = ucwa_store_user_find_locked(s, sip, 1);
    sub->member[m] = user < 0 ? UCWA_SUBS_NO_USER : (apr_uint32_t)user;
    sub->member_gen[m] = user < 0 ? 0 : ucwa_store_user(s, user)->gen;
    sub->member_av[m] = (apr_byte_t)(user < 0 ? UCWA_AV_OFFLINE
                                      : ucwa_store_user(s, user)->published);
    sub->count++;
    *added = 1;
    return m;
}

void ucwa_subs_member_remove_locked(ucwa_store *s, int idx, int m)
{
    ucwa_sub *sub = ucwa_store_sub(s, idx);
    apr_uint32_t off = sub->name_off[m], len, j;

    len = (apr_uint32_t)strlen(sub->names + off) + 1;
    memmove(sub->names + off, sub->names + off + len, sub->names_len - off - len);
    sub->names_len -= len;
    for (j = (apr_uint32_t)m + 1; j < sub->count; j++) {
        sub->member[j - 1] = sub->member[j];
        sub->member_gen[j - 1] = sub->member_gen[j];
        sub->member_av[j - 1] = sub->member_av[j];
        sub->name_off[j - 1] = (apr_uint16_t)(sub->name_off[j] - len);
    }
    sub->count--;
}

static int linked_user(ucwa_store *s, const ucwa_sub *sub, int m)
{
    apr_uint32_t ui = sub->member[m];
    ucwa_user *u;

    if (ui == UCWA_SUBS_NO_USER || ui >= ucwa_store_get_limits(s)->max_users) {
        return -1;
    }
    u = ucwa_store_user(s, (int)ui);
    return u->state == UCWA_SLOT_LIVE && u->gen == sub->member_gen[m] ? (int)ui : -1;
}

static void link_member(ucwa_store *s, ucwa_sub *sub, int m, int user)
{
    sub->member[m] = (apr_uint32_t)user;
    sub->member_gen[m] = ucwa_store_user(s, user)->gen;
}

int ucwa_subs_member_user_locked(ucwa_store *s, int idx, int m, int find)
{
    ucwa_sub *sub = ucwa_store_sub(s, idx);
    int user = linked_user(s, sub, m);

    if (user >= 0 || !find) {
        return user;
    }
    user = ucwa_store_user_find_locked(s, ucwa_subs_member_sip(sub, m), 0);
    if (user >= 0) {
        link_member(s, sub, m, user);
    }
    else {
        sub->member[m] = UCWA_SUBS_NO_USER;
    }
    return user;
}

apr_size_t ucwa_subs_names_bytes(const char *const *sips, int n)
{
    apr_size_t bytes = 0;
    int i;

    for (i = 0; i < n; i++) {
        bytes += strlen(sips[i]) + 1;
    }
    return bytes;
}

int ucwa_subs_app_watches_locked(ucwa_store *s, int app, const char *sip, int except)
{
    apr_uint32_t i, n = ucwa_subs_used_locked(s);

    for (i = 0; i < n; i++) {
        if ((int)i != except && of_app(s, (int)i, app)
            && ucwa_subs_member_find(ucwa_store_sub(s, (int)i), sip) >= 0) {
            return 1;
        }
    }
    return 0;
}

int ucwa_subs_next_watcher_locked(ucwa_store *s, int user, int *pos, int *sub_idx, int *member)
{
    ucwa_user *u = ucwa_store_user(s, user);
    apr_uint32_t n = ucwa_subs_used_locked(s);
    long k = *pos + 1, total = (long)n * UCWA_SUB_MEMBERS;

    if (u->state != UCWA_SLOT_LIVE) {
        return 0;
    }
    while (k < total) {
        int i = (int)(k / UCWA_SUB_MEMBERS), m = (int)(k % UCWA_SUB_MEMBERS);
        ucwa_sub *sub = ucwa_store_sub(s, i);
        if (!ucwa_subs_live_locked(s, i) || (apr_uint32_t)m >= sub->count) {
            k = (long)(i + 1) * UCWA_SUB_MEMBERS;   /* the next subscription */
            continue;
        }
        if (sub->member[m] == (apr_uint32_t)user && sub->member_gen[m] == u->gen) {
            break;
        }
        if (linked_user(s, sub, m) < 0 && !strcmp(ucwa_subs_member_sip(sub, m), u->sip)) {
            link_member(s, sub, m, user);   /* the user is back, in another slot */
            break;
        }
        k++;
    }
    if (k >= total) {
        *pos = (int)total;
        return 0;
    }
    *pos = (int)k;
    *sub_idx = (int)(k / UCWA_SUB_MEMBERS);
    *member = (int)(k % UCWA_SUB_MEMBERS);
    return 1;
}

const char *ucwa_subs_check_locked(ucwa_store *s, apr_uint32_t *subs, apr_uint32_t *members,
                            apr_pool_t *p)
{
    /* the slots in use only: past them nothing was written since the last sweep, and
     * reading them would make the whole table resident */
    apr_uint32_t i, n = ucwa_subs_used_locked(s), m, k;
    apr_hash_t *ids = apr_hash_make(p);
    const char *bad = NULL;

    *subs = *members = 0;
    for (i = 0; i < n; i++) {
        ucwa_sub *sub = ucwa_store_sub(s, (int)i);
        const char *key;
        if (sub->state == UCWA_SLOT_FREE) {
            continue;
        }
        if (sub->state != UCWA_SLOT_LIVE) {
            bad = apr_psprintf(p, "subscription slot %u in state %u", i, sub->state);
            continue;
        }
        if (!ucwa_subs_live_locked(s, (int)i)) {
            bad = apr_psprintf(p, "subscription %.*s belongs to an application that ended",
                               UCWA_SUB_ID_MAX, sub->id);
            continue;
        }
        (*subs)++;
        if (strnlen(sub->id, sizeof(sub->id)) != UCWA_SUBS_ID_LEN) {
            bad = apr_psprintf(p, "subscription slot %u has a malformed id", i);
            continue;
        }
        key = apr_psprintf(p, "%u/%s", sub->app, sub->id);
        if (apr_hash_get(ids, key, APR_HASH_KEY_STRING)) {
            bad = apr_psprintf(p, "two subscriptions %s of one application", sub->id);
        }
        apr_hash_set(ids, key, APR_HASH_KEY_STRING, sub);
        if (sub->count > UCWA_SUB_MEMBERS || sub->names_len > UCWA_SUB_NAMES) {
            bad = apr_psprintf(p, "subscription %s: %u members, %u bytes of names", sub->id,
                               sub->count, sub->names_len);
            continue;
        }
        *members += sub->count;
        for (m = 0; m < sub->count; m++) {
            apr_uint32_t off = sub->name_off[m], end = m + 1 < sub->count
                                                       ? sub->name_off[m + 1] : sub->names_len;
            if (off >= end || end > sub->names_len || sub->names[end - 1] != '\0'
                || strlen(sub->names + off) + 1 != end - off || !sub->names[off]) {
                bad = apr_psprintf(p, "subscription %s: member %u's address is out of place",
                                   sub->id, m);
                break;
            }
            for (k = 0; k < m; k++) {
                if (!strcmp(sub->names + sub->name_off[k], sub->names + off)) {
                    bad = apr_psprintf(p, "subscription %s has %s twice", sub->id,
                                       sub->names + off);
                }
            }
        }
    }
    return bad;
}

/* --- resources and events ------------------------------------------------------------ */

json_t *ucwa_subs_resource(apr_pool_t *p, const char *base, const char *id)
{
    const char *self = apr_psprintf(p, "%s/people/presenceSubscriptions/%s", base, id);
    const char *memberships = apr_psprintf(p, "%s/people/presenceSubscriptionMemberships"
                                           "?presenceSubscriptionId=%s", base, id);

    return mob_json_own(p, json_pack("{s:s,s:{s:{s:s},s:{s:s},s:{s:s}},s:s}", "id", id,
                                     "_links", "self", "href", self, "memberships", "href",
                                     memberships, "addToPresenceSubscription", "href",
                                     memberships, "rel", "presenceSubscription"));
}

/* Posts an event from the sender people (hrefs relative to the application). */
static void post(ucwa_store *s, int app, const char *rel, const char *href, const char *extra,
                 const char *type, apr_time_t now)
{
    ucwa_event e;

    memset(&e, 0, sizeof(e));
    e.sender_rel = "people";
    e.sender_href = "/people";
    e.rel = rel;
    e.href = href;
    e.extra = extra;
    e.type = type;
    (void)ucwa_store_post_locked(s, app, UCWA_PRIO_MEDIUM, &e, now);
}

/* contact added / deleted in subscribedContacts */
static void post_contact(ucwa_store *s, int app, const char *sip, const char *type,
                         apr_time_t now, apr_pool_t *p)
{
    post(s, app, "contact", apr_pstrcat(p, "/people/", sip, NULL),
         "\"in\":{\"rel\":\"subscribedContacts\",\"href\":\"/people/subscribedContacts\"}",
         type, now);
}

/* contactPresence / contactNote / contactLocation updated, in the contact */
static void post_contact_part(ucwa_store *s, int app, const char *sip, const char *rel,
                              const char *sub, apr_time_t now, apr_pool_t *p)
{
    post(s, app, rel, apr_pstrcat(p, "/people/", sip, "/", sub, NULL),
         apr_pstrcat(p, "\"in\":{\"rel\":\"contact\",\"href\":\"/people/", sip, "\"}", NULL),
         "updated", now);
}

static void post_sub(ucwa_store *s, int idx, const char *type, int embed, apr_time_t now,
                     apr_pool_t *p)
{
    ucwa_sub *sub = ucwa_store_sub(s, idx);

    post(s, (int)sub->app, "presenceSubscription",
         apr_pstrcat(p, "/people/presenceSubscriptions/", sub->id, NULL),
         embed ? apr_pstrcat(p, "\"_embedded\":{\"presenceSubscription\":",
                             mob_json_dump(p, ucwa_subs_resource(p, "", sub->id), NULL), "}",
                             NULL)
               : NULL,
         type, now);
}

static void wake_app(ucwa_store *s, int app, ucwa_txn *wake)
{
    (void)s;
    if (wake) {
        ucwa_txn_wake_app(wake, app);
    }
}

/* The addresses once each, in order, leaving out those the subscription has (idx -1: none). */
static const char **distinct(ucwa_store *s, int idx, const char *const *sips, int n,
                             apr_pool_t *p, int *out_n)
{
    const char **out = apr_palloc(p, sizeof(*out) * (apr_size_t)(n + 1));
    apr_hash_t *seen = apr_hash_make(p);
    int i, k = 0;

    for (i = 0; i < n; i++) {
        if (apr_hash_get(seen, sips[i], APR_HASH_KEY_STRING)
            || (idx >= 0 && ucwa_subs_member_find(ucwa_store_sub(s, idx), sips[i]) >= 0)) {
            continue;
        }
        apr_hash_set(seen, sips[i], APR_HASH_KEY_STRING, "");
        out[k++] = sips[i];
    }
    *out_n = k;
    return out;
}

/* Adds the addresses (distinct, not members yet, known to fit) and posts their events:
 * contact added for those the application did not watch, then (when created) the
 * presenceSubscription, then contactPresence for each. */
static void add_and_announce(ucwa_store *s, int idx, const char **sips, int n, int created,
                             apr_time_t now, apr_pool_t *p)
{
    ucwa_sub *sub = ucwa_store_sub(s, idx);
    int app = (int)sub->app, i, added;
    int *fresh = apr_pcalloc(p, sizeof(int) * (apr_size_t)(n + 1));

    for (i = 0; i < n; i++) {
        fresh[i] = !ucwa_subs_app_watches_locked(s, app, sips[i], idx);
        (void)ucwa_subs_member_add_locked(s, idx, sips[i], &added);
    }
    for (i = 0; i < n; i++) {
        if (fresh[i]) {
            post_contact(s, app, sips[i], "added", now, p);
        }
    }
    if (created) {
        post_sub(s, idx, "added", 0, now, p);
    }
    for (i = 0; i < n; i++) {
        post_contact_part(s, app, sips[i], "contactPresence", "presence", now, p);
    }
}

static int fits(const ucwa_sub *sub, const char **sips, int n)
{
    apr_uint32_t count = sub ? sub->count : 0, used = sub ? sub->names_len : 0;

    return count + (apr_uint32_t)n <= UCWA_SUB_MEMBERS
           && used + ucwa_subs_names_bytes(sips, n) <= UCWA_SUB_NAMES;
}

ucwa_subs_result ucwa_subs_subscribe_locked(ucwa_store *s, int app, const char *const *sips, int n,
                                     apr_interval_time_t duration, apr_time_t now,
                                     apr_pool_t *p, ucwa_txn *wake, int *idx)
{
    int k;
    const char **list = distinct(s, -1, sips, n, p, &k);
    ucwa_subs_result r;

    if (!fits(NULL, list, k)) {
        return UCWA_SUBS_MEMBER_LIMIT;
    }
    r = ucwa_subs_create_locked(s, app, duration, now, idx);
    if (r != UCWA_SUBS_OK) {
        return r;
    }
    add_and_announce(s, *idx, list, k, 1, now, p);
    wake_app(s, app, wake);
    return UCWA_SUBS_OK;
}

ucwa_subs_result ucwa_subs_add_members_locked(ucwa_store *s, int idx, const char *const *sips, int n,
                                       apr_time_t now, apr_pool_t *p, ucwa_txn *wake,
                                       int *added)
{
    int k;
    const char **list = distinct(s, idx, sips, n, p, &k);

    *added = 0;
    if (!fits(ucwa_store_sub(s, idx), list, k)) {
        return UCWA_SUBS_MEMBER_LIMIT;
    }
    if (k > 0) {
        add_and_announce(s, idx, list, k, 0, now, p);
        wake_app(s, (int)ucwa_store_sub(s, idx)->app, wake);
    }
    *added = k;
    return UCWA_SUBS_OK;
}

void ucwa_subs_remove_member_locked(ucwa_store *s, int idx, int m, apr_time_t now, apr_pool_t *p,
                             ucwa_txn *wake)
{
    ucwa_sub *sub = ucwa_store_sub(s, idx);
    const char *sip = apr_pstrdup(p, ucwa_subs_member_sip(sub, m));
    int app = (int)sub->app;

    ucwa_subs_member_remove_locked(s, idx, m);
    if (!ucwa_subs_app_watches_locked(s, app, sip, -1)) {
        post_contact(s, app, sip, "deleted", now, p);
        wake_app(s, app, wake);
    }
}

void ucwa_subs_end_locked(ucwa_store *s, int idx, apr_time_t now, apr_pool_t *p,
                   ucwa_txn *wake)
{
    ucwa_sub *sub = ucwa_store_sub(s, idx);
    int app = (int)sub->app, m;

    for (m = 0; m < (int)sub->count; m++) {
        const char *sip = ucwa_subs_member_sip(sub, m);
        if (!ucwa_subs_app_watches_locked(s, app, sip, idx)) {
            post_contact(s, app, sip, "deleted", now, p);
        }
    }
    post_sub(s, idx, "deleted", 0, now, p);
    ucwa_subs_free_locked(s, idx);
    wake_app(s, app, wake);
}

int ucwa_subs_notify_locked(ucwa_store *s, int user, const char *what, apr_time_t now,
                     apr_pool_t *p, ucwa_txn *wake)
{
    ucwa_user *u = ucwa_store_user(s, user);
    const char *rel, *sub_path;
    unsigned char *sent = NULL;   /* applications told already: made at the first watcher */
    int pos = -1, idx, m, n = 0, presence = 0;

    if (!strcmp(what, "presence")) {
        rel = "contactPresence";
        sub_path = "presence";
        presence = 1;
    }
    else if (!strcmp(what, "note")) {
        rel = "contactNote";
        sub_path = "note";
    }
    else if (!strcmp(what, "location")) {
        rel = "contactLocation";
        sub_path = "location";
    }
    else {
        return 0;
    }
    if (u->state != UCWA_SLOT_LIVE) {
        return 0;
    }
    while (ucwa_subs_next_watcher_locked(s, user, &pos, &idx, &m)) {
        ucwa_sub *sub = ucwa_store_sub(s, idx);
        if (!sent) {
            sent = apr_pcalloc(p, ucwa_store_max_apps(s));
        }
        if (presence) {
            sub->member_av[m] = (apr_byte_t)u->published;
        }
        if (sent[sub->app]) {
            continue;   /* the application heard it from another of its subscriptions */
        }
        sent[sub->app] = 1;
        post_contact_part(s, (int)sub->app, u->sip, rel, sub_path, now, p);
        wake_app(s, (int)sub->app, wake);
        n++;
    }
    return n;
}

void ucwa_subs_app_gone_locked(ucwa_store *s, int app)
{
    apr_uint32_t i, n = ucwa_subs_used_locked(s);

    for (i = 0; i < n; i++) {
        ucwa_sub *sub = ucwa_store_sub(s, (int)i);
        if (sub->state == UCWA_SLOT_LIVE && sub->app == (apr_uint32_t)app) {
            ucwa_subs_free_locked(s, (int)i);
        }
    }
}

void ucwa_subs_sweep_locked(ucwa_store *s, apr_time_t now, apr_pool_t *p, ucwa_txn *wake)
{
    /* where address lookups start, turning from sweep to sweep */
    apr_uint32_t *rotate = ucwa_store_word(s, UCWA_WORD_SUBS_ROTATE);
    apr_uint32_t i, n = ucwa_subs_used_locked(s), j, end = 0;
    int budget = LOOKUPS_PER_SWEEP, m;

    for (i = 0; i < n; i++) {
        ucwa_sub *sub = ucwa_store_sub(s, (int)i);
        if (sub->state != UCWA_SLOT_LIVE) {
            continue;
        }
        if (!ucwa_subs_live_locked(s, (int)i)) {
            ucwa_subs_free_locked(s, (int)i);   /* its application ended without telling */
            continue;
        }
        if (sub->expires <= now) {
            ucwa_subs_end_locked(s, (int)i, now, p, wake);
            continue;
        }
        if (!sub->hinted && sub->expires - now <= UCWA_SUBS_HINT) {
            sub->hinted = 1;
            post_sub(s, (int)i, "updated", 1, now, p);
            wake_app(s, (int)sub->app, wake);
        }
        if (sub->state == UCWA_SLOT_LIVE) {
            end = i + 1;
        }
    }
    /* the scans stop after the last subscription in use */
    *ucwa_store_word(s, UCWA_WORD_SUBS_END) = n = end;
    /* availability published without a notify: announce it now */
    for (j = 0; j < n; j++) {
        ucwa_sub *sub;
        i = (*rotate + j) % n;
        sub = ucwa_store_sub(s, (int)i);
        if (!ucwa_subs_live_locked(s, (int)i)) {
            continue;
        }
        for (m = 0; m < (int)sub->count; m++) {
            int user = ucwa_subs_member_user_locked(s, (int)i, m, 0);
            apr_uint32_t av;
            if (user < 0 && budget > 0) {
                budget--;
                user = ucwa_subs_member_user_locked(s, (int)i, m, 1);
            }
            av = user < 0 ? UCWA_AV_OFFLINE : ucwa_store_user(s, user)->published;
            if (av == sub->member_av[m]) {
                continue;
            }
            if (user >= 0) {
                ucwa_subs_notify_locked(s, user, "presence", now, p, wake);
            }
            else {
                sub->member_av[m] = (apr_byte_t)av;
                post_contact_part(s, (int)sub->app, ucwa_subs_member_sip(sub, m),
                                  "contactPresence", "presence", now, p);
                wake_app(s, (int)sub->app, wake);
            }
        }
    }
    *rotate = n ? (*rotate + 1) % n : 0;
}
