#include <stdlib.h>
#include <string.h>
#include <apr_base64.h>
#include <apr_general.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "ucwa_contacts.h"
#include "ucwa_people_render.h"

enum {
    S_GROUPS, S_GROUP, S_GROUP_COUNT, S_GROUP_BY_KEY, S_GROUP_INSERT, S_GROUP_RENAME,
    S_GROUP_DELETE, S_MEMBERS_ALL, S_MEMBERS_GROUP, S_CONTACTS_ALL, S_CONTACT_GROUPS,
    S_CONTACT_COUNT, S_MEMBER_INSERT, S_MEMBER_DELETE, S_MEMBERS_DELETE_GROUP,
    S_MEMBERS_DELETE_CONTACT, S_COUNT
};

/* Labels double as PostgreSQL statement names: plain identifiers. */
static const struct {
    const char *label, *sql;
} sql[S_COUNT] = {
    { "ucwa_sql_groups",
      "SELECT group_id, name FROM ucwa_groups WHERE owner = %s ORDER BY created, group_id" },
    { "ucwa_sql_group",
      "SELECT group_id, name FROM ucwa_groups WHERE owner = %s AND group_id = %s" },
    { "ucwa_sql_group_count", "SELECT COUNT(*) FROM ucwa_groups WHERE owner = %s" },
    { "ucwa_sql_group_by_key",
      "SELECT group_id FROM ucwa_groups WHERE owner = %s AND name_key = %s" },
    { "ucwa_sql_group_insert",
      "INSERT INTO ucwa_groups (owner, group_id, name, name_key, created) "
      "VALUES (%s, %s, %s, %s, %lld)" },
    { "ucwa_sql_group_rename",
      "UPDATE ucwa_groups SET name = %s, name_key = %s WHERE owner = %s AND group_id = %s" },
    { "ucwa_sql_group_delete", "DELETE FROM ucwa_groups WHERE owner = %s AND group_id = %s" },
    { "ucwa_sql_members_all",
      "SELECT group_id, contact FROM ucwa_group_members WHERE owner = %s "
      "ORDER BY contact, group_id" },
    { "ucwa_sql_members_group",
      "SELECT group_id, contact FROM ucwa_group_members WHERE owner = %s AND group_id = %s "
      "ORDER BY contact" },
    { "ucwa_sql_contacts_all",
      "SELECT DISTINCT contact FROM ucwa_group_members WHERE owner = %s ORDER BY contact" },
    { "ucwa_sql_contact_groups",
      "SELECT group_id FROM ucwa_group_members WHERE owner = %s AND contact = %s "
      "ORDER BY group_id" },
    { "ucwa_sql_contact_count",
      "SELECT COUNT(DISTINCT contact) FROM ucwa_group_members WHERE owner = %s" },
    { "ucwa_sql_member_insert",
      "INSERT INTO ucwa_group_members (owner, group_id, contact, added) "
      "VALUES (%s, %s, %s, %lld)" },
    { "ucwa_sql_member_delete",
      "DELETE FROM ucwa_group_members WHERE owner = %s AND group_id = %s AND contact = %s" },
    { "ucwa_sql_members_delete_group",
      "DELETE FROM ucwa_group_members WHERE owner = %s AND group_id = %s" },
    { "ucwa_sql_members_delete_contact",
      "DELETE FROM ucwa_group_members WHERE owner = %s AND contact = %s" },
};

/* --- values ------------------------------------------------------------------------ */

int ucwa_contacts_group_id_valid(const char *id, ucwa_group_kind *kind)
{
    size_t i;

    if (!id) {
        return 0;
    }
    if (!strcmp(id, UCWA_GROUP_PINNED)) {
        *kind = UCWA_GROUP_KIND_PINNED;
        return 1;
    }
    if (!strcmp(id, UCWA_GROUP_DEFAULT)) {
        *kind = UCWA_GROUP_KIND_DEFAULT;
        return 1;
    }
    for (i = 0; id[i]; i++) {
        if (!apr_isalnum(id[i]) && id[i] != '-' && id[i] != '_') {
            return 0;
        }
    }
    *kind = UCWA_GROUP_KIND_CUSTOM;
    return i == UCWA_GROUP_ID_LEN;
}

const char *ucwa_contacts_new_group_id(apr_pool_t *p)
{
    unsigned char raw[12];
    char *id = apr_palloc(p, apr_base64_encode_len(sizeof(raw)));
    size_t i;

    if (apr_generate_random_bytes(raw, sizeof(raw)) != APR_SUCCESS) {
        /* not expected on Linux; the primary key still keeps ids unique */
        apr_uint64_t t = (apr_uint64_t)apr_time_now();
        memcpy(raw, &t, sizeof(t));
        memcpy(raw + 8, &raw, 4);
    }
    apr_base64_encode(id, (const char *)raw, sizeof(raw));
    for (i = 0; id[i]; i++) {
        id[i] = id[i] == '+' ? '-' : id[i] == '/' ? '_' : id[i];
    }
    id[UCWA_GROUP_ID_LEN] = '\0';   /* 12 bytes: 16 characters, no padding */
    return id;
}

const char *ucwa_contacts_name_key(apr_pool_t *p, const char *name)
{
    apr_ssize_t chars = name ? ucwa_people_utf8_length(name) : -1;
    int visible = 0;
    char *key;
    size_t i;

    if (chars < 1 || chars > UCWA_GROUP_NAME_MAX) {
        return NULL;
    }
    key = apr_pstrdup(p, name);
    for (i = 0; key[i]; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c < 0x20 || c == 0x7f) {
            return NULL;
        }
        if (c != ' ') {
            visible = 1;
        }
        key[i] = (char)apr_tolower(c);
    }
    return visible ? key : NULL;
}

/* --- statements (common/ucwa/ucwa_sql) ------------------------------------------------- */

static ucwa_ct_result select_rows(ucwa_db *db, apr_pool_t *p, int which, int nargs,
                                  const char **args, int ncol, apr_array_header_t **rows)
{
    return ucwa_sql_select(db, p, sql[which].label, sql[which].sql, nargs, args, ncol, rows)
           ? UCWA_CT_ERROR : UCWA_CT_OK;
}

static ucwa_ct_result exec(ucwa_db *db, apr_pool_t *p, int which, int nargs,
                           const char **args, int *nrows)
{
    return ucwa_sql_exec(db, p, sql[which].label, sql[which].sql, nargs, args, nrows)
           ? UCWA_CT_ERROR : UCWA_CT_OK;
}

static ucwa_ct_result fail(ucwa_db *db, apr_pool_t *p, const char *what, int rv)
{
    ucwa_sql_fail(db, p, what, rv);
    return UCWA_CT_ERROR;
}

static ucwa_ct_result count(ucwa_db *db, apr_pool_t *p, int which, int nargs,
                            const char **args, long *out)
{
    apr_array_header_t *rows;
    ucwa_ct_result r = select_rows(db, p, which, nargs, args, 1, &rows);

    *out = 0;
    if (r == UCWA_CT_OK && rows->nelts > 0 && APR_ARRAY_IDX(rows, 0, const char **)[0]) {
        *out = atol(APR_ARRAY_IDX(rows, 0, const char **)[0]);
    }
    return r;
}

/* --- transactions ------------------------------------------------------------------ */

static ucwa_ct_result begin(ucwa_db *db, apr_pool_t *p, apr_dbd_transaction_t **t)
{
    int rv;

    *t = NULL;
    rv = apr_dbd_transaction_start(db->driver, p, db->handle, t);
    if (rv != 0) {
        ucwa_ct_result r = fail(db, p, "begin", rv);
        if (*t) {   /* the sqlite3 driver leaves the object behind even then */
            apr_dbd_transaction_mode_set(db->driver, *t, APR_DBD_TRANSACTION_ROLLBACK);
            apr_dbd_transaction_end(db->driver, p, *t);
        }
        *t = NULL;
        return r;
    }
    return UCWA_CT_OK;
}

/* Ends the transaction: commits when r is UCWA_CT_OK, else rolls back; returns r, or
 * UCWA_CT_ERROR when the commit fails. */
static ucwa_ct_result end(ucwa_db *db, apr_pool_t *p, apr_dbd_transaction_t *t,
                          ucwa_ct_result r)
{
    int rv;

    if (r != UCWA_CT_OK) {
        apr_dbd_transaction_mode_set(db->driver, t, APR_DBD_TRANSACTION_ROLLBACK);
    }
    rv = apr_dbd_transaction_end(db->driver, p, t);
    if (rv != 0 && r == UCWA_CT_OK) {
        return fail(db, p, "commit", rv);
    }
    return r;
}

static const char *col0(apr_array_header_t *rows, int i)
{
    return APR_ARRAY_IDX(rows, i, const char **)[0];
}

static apr_array_header_t *first_column(apr_pool_t *p, apr_array_header_t *rows)
{
    apr_array_header_t *out = apr_array_make(p, rows->nelts ? rows->nelts : 1,
                                             sizeof(const char *));
    int i;

    for (i = 0; i < rows->nelts; i++) {
        if (col0(rows, i)) {
            APR_ARRAY_PUSH(out, const char *) = col0(rows, i);
        }
    }
    return out;
}

/* --- reading ----------------------------------------------------------------------- */

static ucwa_group implicit(ucwa_group_kind kind)
{
    ucwa_group g;

    g.kind = kind;
    g.id = kind == UCWA_GROUP_KIND_PINNED ? UCWA_GROUP_PINNED : UCWA_GROUP_DEFAULT;
    g.name = kind == UCWA_GROUP_KIND_PINNED ? UCWA_GROUP_PINNED_NAME : UCWA_GROUP_DEFAULT_NAME;
    return g;
}

ucwa_ct_result ucwa_contacts_groups(ucwa_db *db, apr_pool_t *p, const char *owner,
                                    apr_array_header_t **out)
{
    const char *args[] = { owner };
    apr_array_header_t *rows;
    ucwa_ct_result r = select_rows(db, p, S_GROUPS, 1, args, 2, &rows);
    int i;

    *out = apr_array_make(p, rows->nelts + 2, sizeof(ucwa_group));
    if (r != UCWA_CT_OK) {
        return r;
    }
    APR_ARRAY_PUSH(*out, ucwa_group) = implicit(UCWA_GROUP_KIND_PINNED);
    APR_ARRAY_PUSH(*out, ucwa_group) = implicit(UCWA_GROUP_KIND_DEFAULT);
    for (i = 0; i < rows->nelts; i++) {
        const char **c = APR_ARRAY_IDX(rows, i, const char **);
        ucwa_group g;
        if (!c[0] || !c[1]) {
            continue;
        }
        g.id = c[0];
        g.name = c[1];
        g.kind = UCWA_GROUP_KIND_CUSTOM;
        APR_ARRAY_PUSH(*out, ucwa_group) = g;
    }
    return UCWA_CT_OK;
}

ucwa_ct_result ucwa_contacts_group(ucwa_db *db, apr_pool_t *p, const char *owner,
                                   const char *id, ucwa_group *out)
{
    const char *args[] = { owner, id };
    apr_array_header_t *rows;
    ucwa_group_kind kind;
    ucwa_ct_result r;

    if (!ucwa_contacts_group_id_valid(id, &kind)) {
        return UCWA_CT_NOT_FOUND;
    }
    if (kind != UCWA_GROUP_KIND_CUSTOM) {
        *out = implicit(kind);
        return UCWA_CT_OK;
    }
    r = select_rows(db, p, S_GROUP, 2, args, 2, &rows);
    if (r != UCWA_CT_OK) {
        return r;
    }
    if (rows->nelts == 0 || !col0(rows, 0)) {
        return UCWA_CT_NOT_FOUND;
    }
    out->id = col0(rows, 0);
    out->name = APR_ARRAY_IDX(rows, 0, const char **)[1];
    out->kind = UCWA_GROUP_KIND_CUSTOM;
    if (!out->name) {
        out->name = "";
    }
    return UCWA_CT_OK;
}

ucwa_ct_result ucwa_contacts_memberships(ucwa_db *db, apr_pool_t *p, const char *owner,
                                         const char *group_id, apr_array_header_t **out)
{
    const char *args[] = { owner, group_id };
    apr_array_header_t *rows;
    ucwa_group g;
    ucwa_ct_result r;
    int i;

    *out = apr_array_make(p, 8, sizeof(ucwa_membership));
    if (group_id && (r = ucwa_contacts_group(db, p, owner, group_id, &g)) != UCWA_CT_OK) {
        return r;
    }
    r = select_rows(db, p, group_id ? S_MEMBERS_GROUP : S_MEMBERS_ALL, group_id ? 2 : 1,
                    args, 2, &rows);
    if (r != UCWA_CT_OK) {
        return r;
    }
    for (i = 0; i < rows->nelts; i++) {
        const char **c = APR_ARRAY_IDX(rows, i, const char **);
        ucwa_membership m;
        if (c[0] && c[1]) {
            m.group_id = c[0];
            m.contact = c[1];
            APR_ARRAY_PUSH(*out, ucwa_membership) = m;
        }
    }
    return UCWA_CT_OK;
}

ucwa_ct_result ucwa_contacts_list(ucwa_db *db, apr_pool_t *p, const char *owner,
                                  const char *group_id, apr_array_header_t **out)
{
    const char *args[] = { owner };
    apr_array_header_t *rows, *ms;
    ucwa_ct_result r;
    int i;

    if (group_id) {
        r = ucwa_contacts_memberships(db, p, owner, group_id, &ms);
        *out = apr_array_make(p, ms->nelts ? ms->nelts : 1, sizeof(const char *));
        for (i = 0; i < ms->nelts; i++) {
            APR_ARRAY_PUSH(*out, const char *) = APR_ARRAY_IDX(ms, i, ucwa_membership).contact;
        }
        return r;
    }
    r = select_rows(db, p, S_CONTACTS_ALL, 1, args, 1, &rows);
    *out = first_column(p, rows);
    return r;
}

ucwa_ct_result ucwa_contacts_groups_of(ucwa_db *db, apr_pool_t *p, const char *owner,
                                       const char *contact, apr_array_header_t **out)
{
    const char *args[] = { owner, contact };
    apr_array_header_t *rows;
    ucwa_ct_result r = select_rows(db, p, S_CONTACT_GROUPS, 2, args, 1, &rows);

    *out = first_column(p, rows);
    return r;
}

/* --- changing ---------------------------------------------------------------------- */

static ucwa_ct_result name_taken(ucwa_db *db, apr_pool_t *p, const char *owner,
                                 const char *key, const char *except, int *taken)
{
    const char *args[] = { owner, key };
    apr_array_header_t *rows;
    ucwa_ct_result r;
    int i;

    *taken = !strcmp(key, "pinned contacts") || !strcmp(key, "other contacts");
    if (*taken) {
        return UCWA_CT_OK;
    }
    r = select_rows(db, p, S_GROUP_BY_KEY, 2, args, 1, &rows);
    for (i = 0; r == UCWA_CT_OK && i < rows->nelts; i++) {
        if (!except || !col0(rows, i) || strcmp(col0(rows, i), except)) {
            *taken = 1;
        }
    }
    return r;
}

ucwa_ct_result ucwa_contacts_group_create(ucwa_db *db, apr_pool_t *p, const char *owner,
                                          const char *name, apr_time_t now, const char **id)
{
    const char *key = ucwa_contacts_name_key(p, name);
    const char *args[5];
    apr_dbd_transaction_t *t;
    ucwa_ct_result r;
    long groups = 0;
    int taken = 0;

    if (!key) {
        return UCWA_CT_ERROR;   /* the caller checks names first */
    }
    if ((r = begin(db, p, &t)) != UCWA_CT_OK) {
        return r;
    }
    args[0] = owner;
    r = count(db, p, S_GROUP_COUNT, 1, args, &groups);
    if (r == UCWA_CT_OK && groups >= UCWA_GROUPS_MAX) {
        r = UCWA_CT_TOO_MANY_GROUPS;
    }
    if (r == UCWA_CT_OK) {
        r = name_taken(db, p, owner, key, NULL, &taken);
    }
    if (r == UCWA_CT_OK && taken) {
        r = UCWA_CT_EXISTS;
    }
    if (r == UCWA_CT_OK) {
        *id = ucwa_contacts_new_group_id(p);
        args[1] = *id;
        args[2] = name;
        args[3] = key;
        args[4] = apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)apr_time_sec(now));
        r = exec(db, p, S_GROUP_INSERT, 5, args, NULL);
    }
    r = end(db, p, t, r);
    if (r == UCWA_CT_ERROR) {
        /* a concurrent create of the same name (PostgreSQL: unique violation) */
        int again = 0;
        const char *saved = db->err;
        if (name_taken(db, p, owner, key, NULL, &again) == UCWA_CT_OK && again) {
            return UCWA_CT_EXISTS;
        }
        db->err = saved;
    }
    return r;
}

ucwa_ct_result ucwa_contacts_group_rename(ucwa_db *db, apr_pool_t *p, const char *owner,
                                          const char *id, const char *name)
{
    const char *key = ucwa_contacts_name_key(p, name);
    const char *args[4];
    apr_dbd_transaction_t *t;
    ucwa_group g;
    ucwa_ct_result r;
    int taken = 0, n = 0;

    if (!key) {
        return UCWA_CT_ERROR;
    }
    if ((r = ucwa_contacts_group(db, p, owner, id, &g)) != UCWA_CT_OK) {
        return r;
    }
    if (g.kind != UCWA_GROUP_KIND_CUSTOM) {
        return UCWA_CT_READ_ONLY;
    }
    if ((r = begin(db, p, &t)) != UCWA_CT_OK) {
        return r;
    }
    r = name_taken(db, p, owner, key, id, &taken);
    if (r == UCWA_CT_OK && taken) {
        r = UCWA_CT_EXISTS;
    }
    if (r == UCWA_CT_OK) {
        args[0] = name;
        args[1] = key;
        args[2] = owner;
        args[3] = id;
        r = exec(db, p, S_GROUP_RENAME, 4, args, &n);
        if (r == UCWA_CT_OK && n == 0) {
            r = UCWA_CT_NOT_FOUND;   /* deleted meanwhile */
        }
    }
    return end(db, p, t, r);
}

ucwa_ct_result ucwa_contacts_group_delete(ucwa_db *db, apr_pool_t *p, const char *owner,
                                          const char *id, apr_array_header_t **members,
                                          apr_array_header_t **dropped)
{
    const char *args[2] = { owner, id };
    apr_dbd_transaction_t *t;
    apr_array_header_t *ms = NULL, *rest;
    ucwa_group_kind kind;
    ucwa_ct_result r;
    int i, n = 0;

    *members = apr_array_make(p, 1, sizeof(const char *));
    *dropped = apr_array_make(p, 1, sizeof(const char *));
    if (!ucwa_contacts_group_id_valid(id, &kind)) {
        return UCWA_CT_NOT_FOUND;
    }
    if (kind != UCWA_GROUP_KIND_CUSTOM) {
        return UCWA_CT_READ_ONLY;
    }
    if ((r = begin(db, p, &t)) != UCWA_CT_OK) {
        return r;
    }
    r = ucwa_contacts_memberships(db, p, owner, id, &ms);
    if (r == UCWA_CT_OK) {
        r = exec(db, p, S_MEMBERS_DELETE_GROUP, 2, args, NULL);
    }
    if (r == UCWA_CT_OK) {
        r = exec(db, p, S_GROUP_DELETE, 2, args, &n);
        if (r == UCWA_CT_OK && n == 0) {
            r = UCWA_CT_NOT_FOUND;
        }
    }
    for (i = 0; r == UCWA_CT_OK && i < ms->nelts; i++) {
        const char *c = APR_ARRAY_IDX(ms, i, ucwa_membership).contact;
        APR_ARRAY_PUSH(*members, const char *) = c;
        r = ucwa_contacts_groups_of(db, p, owner, c, &rest);
        if (r == UCWA_CT_OK && rest->nelts == 0) {
            APR_ARRAY_PUSH(*dropped, const char *) = c;
        }
    }
    r = end(db, p, t, r);
    if (r != UCWA_CT_OK) {
        apr_array_clear(*members);
        apr_array_clear(*dropped);
    }
    return r;
}

ucwa_ct_result ucwa_contacts_add(ucwa_db *db, apr_pool_t *p, const char *owner,
                                 const char *group_id, const char *contact, apr_time_t now,
                                 int *added_to_list)
{
    const char *args[4];
    apr_dbd_transaction_t *t;
    apr_array_header_t *in = NULL;
    ucwa_group g;
    ucwa_ct_result r;
    long contacts = 0;
    int i;

    *added_to_list = 0;
    if (!group_id) {
        group_id = UCWA_GROUP_DEFAULT;
    }
    if ((r = begin(db, p, &t)) != UCWA_CT_OK) {
        return r;
    }
    r = ucwa_contacts_group(db, p, owner, group_id, &g);
    if (r == UCWA_CT_OK) {
        r = ucwa_contacts_groups_of(db, p, owner, contact, &in);
    }
    for (i = 0; r == UCWA_CT_OK && in && i < in->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(in, i, const char *), group_id)) {
            r = UCWA_CT_EXISTS;
        }
    }
    if (r == UCWA_CT_OK && in && in->nelts == 0) {
        args[0] = owner;
        r = count(db, p, S_CONTACT_COUNT, 1, args, &contacts);
        if (r == UCWA_CT_OK && contacts >= UCWA_CONTACTS_MAX) {
            r = UCWA_CT_TOO_MANY_CONTACTS;
        }
        *added_to_list = 1;
    }
    if (r == UCWA_CT_OK) {
        args[0] = owner;
        args[1] = group_id;
        args[2] = contact;
        args[3] = apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)apr_time_sec(now));
        r = exec(db, p, S_MEMBER_INSERT, 4, args, NULL);
    }
    r = end(db, p, t, r);
    if (r != UCWA_CT_OK) {
        *added_to_list = 0;
    }
    if (r == UCWA_CT_ERROR) {
        /* the same membership added at the same moment elsewhere (a unique violation) */
        const char *saved = db->err;
        if (ucwa_contacts_groups_of(db, p, owner, contact, &in) == UCWA_CT_OK) {
            for (i = 0; i < in->nelts; i++) {
                if (!strcmp(APR_ARRAY_IDX(in, i, const char *), group_id)) {
                    return UCWA_CT_EXISTS;
                }
            }
        }
        db->err = saved;
    }
    return r;
}

ucwa_ct_result ucwa_contacts_remove(ucwa_db *db, apr_pool_t *p, const char *owner,
                                    const char *group_id, const char *contact, int *left_list)
{
    const char *args[3] = { owner, group_id, contact };
    apr_dbd_transaction_t *t;
    apr_array_header_t *rest;
    ucwa_group_kind kind;
    ucwa_ct_result r;
    int n = 0;

    *left_list = 0;
    if (!ucwa_contacts_group_id_valid(group_id, &kind)) {
        return UCWA_CT_NOT_FOUND;
    }
    if ((r = begin(db, p, &t)) != UCWA_CT_OK) {
        return r;
    }
    r = exec(db, p, S_MEMBER_DELETE, 3, args, &n);
    if (r == UCWA_CT_OK && n == 0) {
        r = UCWA_CT_NOT_FOUND;
    }
    if (r == UCWA_CT_OK) {
        r = ucwa_contacts_groups_of(db, p, owner, contact, &rest);
        *left_list = r == UCWA_CT_OK && rest->nelts == 0;
    }
    r = end(db, p, t, r);
    if (r != UCWA_CT_OK) {
        *left_list = 0;
    }
    return r;
}

ucwa_ct_result ucwa_contacts_remove_all(ucwa_db *db, apr_pool_t *p, const char *owner,
                                        const char *contact, apr_array_header_t **groups)
{
    const char *args[2] = { owner, contact };
    apr_dbd_transaction_t *t;
    ucwa_ct_result r;

    if ((r = begin(db, p, &t)) != UCWA_CT_OK) {
        *groups = apr_array_make(p, 1, sizeof(const char *));
        return r;
    }
    r = ucwa_contacts_groups_of(db, p, owner, contact, groups);
    if (r == UCWA_CT_OK && (*groups)->nelts > 0) {
        r = exec(db, p, S_MEMBERS_DELETE_CONTACT, 2, args, NULL);
    }
    r = end(db, p, t, r);
    if (r != UCWA_CT_OK) {
        apr_array_clear(*groups);
    }
    return r;
}
