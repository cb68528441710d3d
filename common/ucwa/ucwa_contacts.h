/* The contact list in SQL (the tables of ucwa_schema): an owner's groups and which
 * contacts are in them. Addresses are SIP addresses in lower case without "sip:"
 * (ucwa_people_address makes them). Every owner has two implicit groups, the pinned
 * group and the default group ("Other Contacts", where a contact goes when no group is
 * named); custom groups are rows of ucwa_groups with a random id. A contact is on the
 * contact list while it is in at least one group.
 *
 * Statements are prepared once per connection and kept in the connection's statement
 * table (mod_dbd's ap_dbd_t.prepared), under labels "ucwa_sql_N": values are always
 * bound, never written into the SQL. Changes run in a transaction each. */
#ifndef UCWA_CONTACTS_H
#define UCWA_CONTACTS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_hash.h>
#include <apr_time.h>
#include <apr_dbd.h>

#include "ucwa_sql.h"

#define UCWA_GROUP_PINNED   "pinned"
#define UCWA_GROUP_DEFAULT  "default"
#define UCWA_GROUP_PINNED_NAME  "Pinned Contacts"
#define UCWA_GROUP_DEFAULT_NAME "Other Contacts"
#define UCWA_GROUP_ID_LEN   16      /* custom group ids: base64url of 12 random bytes */
#define UCWA_GROUP_NAME_MAX 256     /* characters (UCWA's limit) */
#define UCWA_CONTACTS_MAX   250     /* distinct contacts per owner (Skype for Business's default) */
#define UCWA_GROUPS_MAX     64      /* custom groups per owner */


typedef enum {
    UCWA_GROUP_KIND_PINNED = 0,
    UCWA_GROUP_KIND_DEFAULT,
    UCWA_GROUP_KIND_CUSTOM
} ucwa_group_kind;

typedef struct {
    const char *id;
    const char *name;
    ucwa_group_kind kind;
} ucwa_group;

typedef struct {
    const char *group_id;
    const char *contact;
} ucwa_membership;

typedef enum {
    UCWA_CT_OK = 0,
    UCWA_CT_NOT_FOUND,          /* no such group, or the contact is not in it */
    UCWA_CT_EXISTS,             /* a group of that name, or that membership, exists */
    UCWA_CT_TOO_MANY_GROUPS,    /* UCWA_GROUPS_MAX */
    UCWA_CT_TOO_MANY_CONTACTS,  /* UCWA_CONTACTS_MAX */
    UCWA_CT_READ_ONLY,          /* the pinned and default groups cannot be renamed or deleted */
    UCWA_CT_ERROR               /* the database failed: db->err */
} ucwa_ct_result;

/* The kind of a group id, and whether it can be one at all (a custom id is
 * UCWA_GROUP_ID_LEN characters of the base64url alphabet). */
int ucwa_contacts_group_id_valid(const char *id, ucwa_group_kind *kind);

/* A fresh custom group id. */
const char *ucwa_contacts_new_group_id(apr_pool_t *p);

/* A group name: 1 to UCWA_GROUP_NAME_MAX characters of valid UTF-8 without control
 * characters, not only spaces. Returns the comparison key (ASCII letters folded to lower
 * case) or NULL. */
const char *ucwa_contacts_name_key(apr_pool_t *p, const char *name);

/* Every group of the owner (ucwa_group): pinned, default, then the custom ones in the
 * order they were made. */
ucwa_ct_result ucwa_contacts_groups(ucwa_db *db, apr_pool_t *p, const char *owner,
                                    apr_array_header_t **out);
/* One group; UCWA_CT_NOT_FOUND for an id the owner has no group of. */
ucwa_ct_result ucwa_contacts_group(ucwa_db *db, apr_pool_t *p, const char *owner,
                                   const char *id, ucwa_group *out);

/* The owner's memberships (ucwa_membership) by contact, then group; of one group when
 * group_id is not NULL (the group must exist: UCWA_CT_NOT_FOUND otherwise). */
ucwa_ct_result ucwa_contacts_memberships(ucwa_db *db, apr_pool_t *p, const char *owner,
                                         const char *group_id, apr_array_header_t **out);

/* The contact list (const char *, sorted, each once), or one group's contacts. */
ucwa_ct_result ucwa_contacts_list(ucwa_db *db, apr_pool_t *p, const char *owner,
                                  const char *group_id, apr_array_header_t **out);

/* The groups one contact is in (ucwa_group ids, const char *). */
ucwa_ct_result ucwa_contacts_groups_of(ucwa_db *db, apr_pool_t *p, const char *owner,
                                       const char *contact, apr_array_header_t **out);

/* A new custom group (name checked by the caller with ucwa_contacts_name_key); names
 * are unique per owner, ignoring ASCII case, the two implicit names included. */
ucwa_ct_result ucwa_contacts_group_create(ucwa_db *db, apr_pool_t *p, const char *owner,
                                          const char *name, apr_time_t now, const char **id);
ucwa_ct_result ucwa_contacts_group_rename(ucwa_db *db, apr_pool_t *p, const char *owner,
                                          const char *id, const char *name);
/* Deletes a custom group and its memberships. *members: the contacts that were in it;
 * *dropped: those of them that are on no list any more (both const char *). */
ucwa_ct_result ucwa_contacts_group_delete(ucwa_db *db, apr_pool_t *p, const char *owner,
                                          const char *id, apr_array_header_t **members,
                                          apr_array_header_t **dropped);

/* Puts contact into a group (the default group when group_id is NULL). *added_to_list
 * says it was on no list before. */
ucwa_ct_result ucwa_contacts_add(ucwa_db *db, apr_pool_t *p, const char *owner,
                                 const char *group_id, const char *contact, apr_time_t now,
                                 int *added_to_list);
/* Takes contact out of one group; *left_list says it is on no list now. */
ucwa_ct_result ucwa_contacts_remove(ucwa_db *db, apr_pool_t *p, const char *owner,
                                    const char *group_id, const char *contact, int *left_list);
/* Takes contact out of every group; *groups gets the ids it was in (empty: it was on no
 * list, which is not an error). */
ucwa_ct_result ucwa_contacts_remove_all(ucwa_db *db, apr_pool_t *p, const char *owner,
                                        const char *contact, apr_array_header_t **groups);

#endif
