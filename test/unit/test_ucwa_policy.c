/* ucwa_policy: CsMobilityPolicy parameters, scopes and precedence, the UCWA policies
 * resource and the fingerprint. */
#include <stdarg.h>
#include <stddef.h>

#include "unit.h"
#include "mob_json.h"
#include "ucwa_policy.h"

static ucwa_policy pol;
static ucwa_policy_set *set;

static void setup(void)
{
    unit_pool_setup();
    memset(&pol, 0x55, sizeof(pol));
    ucwa_policy_defaults(&pol);
    pol.scope = UCWA_POLICY_GLOBAL;
    pol.name = "Global";
    set = ucwa_policy_set_make(pool);
}

/* err is an error message containing every NULL-terminated fragment. */
static void names(const char *err, ...)
{
    const char *frag;
    va_list ap;

    ck_assert_msg(err != NULL, "accepted, want an error");
    va_start(ap, err);
    while ((frag = va_arg(ap, const char *)) != NULL) {
        ck_assert_msg(strstr(err, frag) != NULL, "'%s' does not mention '%s'", err, frag);
    }
    va_end(ap);
}

/* Every boolean parameter, its member, and its default. */
static const struct {
    const char *name;
    size_t off;
    int def;
} bools[] = {
    { "EnableMobility", offsetof(ucwa_policy, enable_mobility), 1 },
    { "EnableOutsideVoice", offsetof(ucwa_policy, enable_outside_voice), 1 },
    { "EnableIPAudioVideo", offsetof(ucwa_policy, enable_ip_audio_video), 1 },
    { "RequireWiFiForIPAudio", offsetof(ucwa_policy, require_wifi_for_ip_audio), 0 },
    { "RequireWiFiForIPVideo", offsetof(ucwa_policy, require_wifi_for_ip_video), 0 },
    { "RequireWiFiForSharing", offsetof(ucwa_policy, require_wifi_for_sharing), 0 },
    { "AllowCustomerExperienceImprovementProgram", offsetof(ucwa_policy, allow_ceip), 1 },
    { "AllowSaveCallLogs", offsetof(ucwa_policy, allow_save_call_logs), 1 },
    { "AllowExchangeConnectivity", offsetof(ucwa_policy, allow_exchange_connectivity), 1 },
    { "AllowSaveIMHistory", offsetof(ucwa_policy, allow_save_im_history), 1 },
    { "AllowSaveCredentials", offsetof(ucwa_policy, allow_save_credentials), 1 },
    { "EnablePushNotifications", offsetof(ucwa_policy, enable_push_notifications), 1 },
    { "EncryptAppData", offsetof(ucwa_policy, encrypt_app_data), 1 },
    { "AllowDeviceContactsSync", offsetof(ucwa_policy, allow_device_contacts_sync), 1 },
    { "RequireIntune", offsetof(ucwa_policy, require_intune), 0 },
    { "AllowAutomaticPstnFallback", offsetof(ucwa_policy, allow_automatic_pstn_fallback), 1 },
};
#define NBOOLS (sizeof(bools) / sizeof(bools[0]))

static int *member(ucwa_policy *p, size_t i)
{
    return (int *)(void *)((char *)p + bools[i].off);
}

START_TEST(defaults)
{
    size_t i;

    for (i = 0; i < NBOOLS; i++) {
        ck_assert_msg(*member(&pol, i) == bools[i].def, "%s: %d, want %d", bools[i].name,
                      *member(&pol, i), bools[i].def);
    }
    ck_assert_int_eq(pol.voice_settings, UCWA_VOICE_VOIP_ALWAYS);
    ck_assert_ptr_null(pol.description);
    ck_assert(ucwa_policy_mobility_enabled(&pol));
    ck_assert(ucwa_policy_push_enabled(&pol));
    ck_assert(ucwa_policy_call_via_work_enabled(&pol));
}
END_TEST

START_TEST(set_booleans)
{
    static const char *const on[] = { "On", "on", "ON", "True", "true", "TRUE", "1" };
    static const char *const off[] = { "Off", "off", "OFF", "False", "false", "fAlSe", "0" };
    size_t i, j;

    for (i = 0; i < NBOOLS; i++) {
        for (j = 0; j < sizeof(off) / sizeof(off[0]); j++) {
            ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol, bools[i].name, off[j]));
            ck_assert_msg(*member(&pol, i) == 0, "%s %s", bools[i].name, off[j]);
        }
        for (j = 0; j < sizeof(on) / sizeof(on[0]); j++) {
            ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol, bools[i].name, on[j]));
            ck_assert_msg(*member(&pol, i) == 1, "%s %s", bools[i].name, on[j]);
        }
    }
    /* names are case-insensitive; the cmdlets' own spelling "RequireWIFIForIPVideo" works */
    ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol, "enablemobility", "off"));
    ck_assert_int_eq(pol.enable_mobility, 0);
    ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol, "RequireWIFIForIPVideo", "on"));
    ck_assert_int_eq(pol.require_wifi_for_ip_video, 1);
    ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol, "REQUIREWIFIFORIPAUDIO", "1"));
    ck_assert_int_eq(pol.require_wifi_for_ip_audio, 1);
}
END_TEST

START_TEST(set_voice_and_description)
{
    ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol, "VoiceSettings", "VoIPOverWiFi"));
    ck_assert_int_eq(pol.voice_settings, UCWA_VOICE_VOIP_OVER_WIFI);
    ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol, "voicesettings", "cellular"));
    ck_assert_int_eq(pol.voice_settings, UCWA_VOICE_CELLULAR);
    ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol, "VoiceSettings", "VOIPALWAYS"));
    ck_assert_int_eq(pol.voice_settings, UCWA_VOICE_VOIP_ALWAYS);

    ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol, "Description",
                                             "Sales: no video on 4G, \"please\""));
    ck_assert_str_eq(pol.description, "Sales: no video on 4G, \"please\"");
    ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol, "DESCRIPTION", ""));
    ck_assert_ptr_null(pol.description);
}
END_TEST

START_TEST(set_bad)
{
    ucwa_policy before;

    memcpy(&before, &pol, sizeof(pol));
    names(ucwa_policy_set_param(pool, &pol, "EnableMobilty", "on"),
          "unknown mobility policy parameter 'EnableMobilty'", "EnableMobility",
          "RequireWiFiForIPAudio", "AllowAutomaticPstnFallback", "VoiceSettings",
          "Description", NULL);
    names(ucwa_policy_set_param(pool, &pol, "EnableMobility", "yes"),
          "EnableMobility", "'yes'", "On, Off, True, False, 1 or 0", NULL);
    names(ucwa_policy_set_param(pool, &pol, "requirewififorsharing", ""),
          "RequireWiFiForSharing", "''", "On, Off, True, False, 1 or 0", NULL);
    names(ucwa_policy_set_param(pool, &pol, "EncryptAppData", "$true"),
          "EncryptAppData", "'$true'", "On, Off, True, False, 1 or 0", NULL);
    names(ucwa_policy_set_param(pool, &pol, "AllowSaveCallLogs", "10"),
          "AllowSaveCallLogs", "'10'", NULL);
    names(ucwa_policy_set_param(pool, &pol, "VoiceSettings", "VoIP"),
          "VoiceSettings", "'VoIP'", "VoIPAlways, VoIPOverWiFi or Cellular", NULL);
    names(ucwa_policy_set_param(pool, &pol, "EnablePushNotifications", NULL),
          "EnablePushNotifications", "needs a value", NULL);
    names(ucwa_policy_set_param(pool, &pol, "Identity", "global"),
          "unknown mobility policy parameter 'Identity'", NULL);
    ck_assert_msg(memcmp(&before, &pol, sizeof(pol)) == 0, "a refused line changed the policy");
}
END_TEST

START_TEST(derived)
{
    ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol, "EnablePushNotifications", "off"));
    ck_assert(!ucwa_policy_push_enabled(&pol));
    ck_assert(ucwa_policy_mobility_enabled(&pol));
    ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol, "EnablePushNotifications", "on"));
    ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol, "EnableMobility", "off"));
    ck_assert(!ucwa_policy_mobility_enabled(&pol));
    ck_assert(!ucwa_policy_push_enabled(&pol));
    ck_assert(!ucwa_policy_call_via_work_enabled(&pol));
    ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol, "EnableMobility", "on"));
    ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol, "EnableOutsideVoice", "off"));
    ck_assert(!ucwa_policy_call_via_work_enabled(&pol));
}
END_TEST

START_TEST(identities)
{
    ucwa_policy *g, *site, *tag, *tag2, *other;

    ck_assert_ptr_null(ucwa_policy_set_add(set, pool, "Global", &g));
    ck_assert_ptr_eq(g, ucwa_policy_set_global(set));
    ck_assert_int_eq(g->scope, UCWA_POLICY_GLOBAL);
    ck_assert_str_eq(ucwa_policy_identity(pool, g), "Global");

    ck_assert_ptr_null(ucwa_policy_set_add(set, pool, "site:Redmond", &site));
    ck_assert_int_eq(site->scope, UCWA_POLICY_SITE);
    ck_assert_str_eq(site->name, "Redmond");
    ck_assert_str_eq(ucwa_policy_identity(pool, site), "Site:Redmond");
    ck_assert_int_eq(site->enable_mobility, 1);   /* a new policy starts from the defaults */

    ck_assert_ptr_null(ucwa_policy_set_add(set, pool, "SalesPolicy", &tag));
    ck_assert_int_eq(tag->scope, UCWA_POLICY_TAG);
    ck_assert_str_eq(ucwa_policy_identity(pool, tag), "Tag:SalesPolicy");
    ck_assert_ptr_null(ucwa_policy_set_add(set, pool, "TAG:Field Staff", &tag2));
    ck_assert_int_eq(tag2->scope, UCWA_POLICY_TAG);
    ck_assert_str_eq(tag2->name, "Field Staff");
    ck_assert_ptr_null(ucwa_policy_set_add(set, pool, "Site:Paris", NULL));
    /* a site and a tag may share a name: different scopes */
    ck_assert_ptr_null(ucwa_policy_set_add(set, pool, "Redmond", &other));
    ck_assert_int_eq(other->scope, UCWA_POLICY_TAG);
    ck_assert(ucwa_policy_set_has_site(set, "redmond"));
    ck_assert(ucwa_policy_set_has_site(set, "Site:PARIS"));
    ck_assert(!ucwa_policy_set_has_site(set, "London"));
}
END_TEST

START_TEST(identities_bad)
{
    ucwa_policy *out = (ucwa_policy *)&out;

    names(ucwa_policy_set_add(set, pool, "", &out), "needs an identity", "site:<name>", NULL);
    ck_assert_ptr_null(out);
    names(ucwa_policy_set_add(set, pool, NULL, NULL), "needs an identity", NULL);
    names(ucwa_policy_set_add(set, pool, "site:", NULL), "'site:'", "empty name", NULL);
    names(ucwa_policy_set_add(set, pool, "tag:", NULL), "'tag:'", "empty name", NULL);
    names(ucwa_policy_set_add(set, pool, "service:WebServer:pool01.contoso.test", NULL),
          "'service:WebServer:pool01.contoso.test'", "global, site or per-user (tag) scope",
          NULL);
    names(ucwa_policy_set_add(set, pool, "site:Redmond:1", NULL), "'site:Redmond:1'",
          "scope", NULL);
    names(ucwa_policy_set_add(set, pool, "site: Redmond", NULL), "spaces", NULL);
    names(ucwa_policy_set_add(set, pool, "Sales\tTeam", NULL), "control characters", NULL);
    names(ucwa_policy_set_add(set, pool, unit_repeat("a", UCWA_POLICY_NAME_MAX + 1), NULL),
          "longer than 256 bytes", NULL);
    ck_assert_ptr_null(ucwa_policy_set_add(set, pool, unit_repeat("a", UCWA_POLICY_NAME_MAX),
                                           NULL));
}
END_TEST

START_TEST(duplicates)
{
    ck_assert_ptr_null(ucwa_policy_set_add(set, pool, "global", NULL));
    names(ucwa_policy_set_add(set, pool, "GLOBAL", NULL), "global", "twice", NULL);

    ck_assert_ptr_null(ucwa_policy_set_add(set, pool, "site:Redmond", NULL));
    names(ucwa_policy_set_add(set, pool, "SITE:redmond", NULL), "'SITE:redmond'",
          "declared twice", "Site:Redmond", NULL);

    ck_assert_ptr_null(ucwa_policy_set_add(set, pool, "SalesPolicy", NULL));
    names(ucwa_policy_set_add(set, pool, "tag:salespolicy", NULL), "'tag:salespolicy'",
          "declared twice", "Tag:SalesPolicy", NULL);
    names(ucwa_policy_set_add(set, pool, "SALESPOLICY", NULL), "declared twice", NULL);
}
END_TEST

/* Adds identity with a Description (the test reads the returned policy). */
static ucwa_policy *add(const char *identity, const char *description)
{
    ucwa_policy *p;

    ck_assert_ptr_null(ucwa_policy_set_add(set, pool, identity, &p));
    ck_assert_ptr_null(ucwa_policy_set_param(pool, p, "Description", description));
    return p;
}

START_TEST(global_always_exists)
{
    const ucwa_policy *g = ucwa_policy_resolve(set, NULL, NULL);

    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(g->scope, UCWA_POLICY_GLOBAL);
    ck_assert_str_eq(g->name, "Global");
    ck_assert_ptr_eq(g, ucwa_policy_set_global(set));
    ck_assert_uint_eq(ucwa_policy_fingerprint(g), ucwa_policy_fingerprint(&pol));
    ck_assert_ptr_eq(ucwa_policy_resolve(set, "Redmond", "SalesPolicy"), g);
    ck_assert_ptr_eq(ucwa_policy_resolve(set, "", ""), g);
    ck_assert(!ucwa_policy_set_has_tag(set, "SalesPolicy"));
}
END_TEST

START_TEST(precedence)
{
    ucwa_policy *g, *redmond, *sales;

    ck_assert_ptr_null(ucwa_policy_set_add(set, pool, "global", &g));
    ck_assert_ptr_null(ucwa_policy_set_param(pool, g, "RequireWiFiForIPVideo", "on"));
    redmond = add("site:Redmond", "redmond");
    ck_assert_ptr_null(ucwa_policy_set_param(pool, redmond, "AllowSaveCredentials", "off"));
    sales = add("SalesPolicy", "sales");

    /* tag > site > global */
    ck_assert_ptr_eq(ucwa_policy_resolve(set, "Redmond", "SalesPolicy"), sales);
    ck_assert_ptr_eq(ucwa_policy_resolve(set, "Paris", "SalesPolicy"), sales);
    ck_assert_ptr_eq(ucwa_policy_resolve(set, NULL, "SalesPolicy"), sales);
    ck_assert_ptr_eq(ucwa_policy_resolve(set, "Redmond", NULL), redmond);
    ck_assert_ptr_eq(ucwa_policy_resolve(set, "Redmond", ""), redmond);
    ck_assert_ptr_eq(ucwa_policy_resolve(set, "Paris", NULL), g);
    ck_assert_ptr_eq(ucwa_policy_resolve(set, NULL, NULL), g);

    /* case-insensitive, with or without the scope prefix */
    ck_assert_ptr_eq(ucwa_policy_resolve(set, "REDMOND", "tag:salespolicy"), sales);
    ck_assert_ptr_eq(ucwa_policy_resolve(set, "site:redmond", NULL), redmond);

    /* the most specific policy applies whole: nothing is inherited field by field */
    ck_assert_int_eq(sales->require_wifi_for_ip_video, 0);
    ck_assert_int_eq(sales->allow_save_credentials, 1);
    ck_assert_int_eq(redmond->require_wifi_for_ip_video, 0);
}
END_TEST

START_TEST(unknown_tag_falls_back)
{
    ucwa_policy *redmond = add("site:Redmond", "redmond");

    add("SalesPolicy", "sales");
    ck_assert(ucwa_policy_set_has_tag(set, "SalesPolicy"));
    ck_assert(ucwa_policy_set_has_tag(set, "Tag:SALESPOLICY"));
    ck_assert(!ucwa_policy_set_has_tag(set, "MarketingPolicy"));
    ck_assert(!ucwa_policy_set_has_tag(set, NULL));
    ck_assert(!ucwa_policy_set_has_tag(set, ""));
    ck_assert(!ucwa_policy_set_has_tag(set, "tag:"));
    ck_assert(!ucwa_policy_set_has_tag(set, unit_repeat("a", UCWA_POLICY_NAME_MAX + 10)));
    /* a site name is not a tag */
    ck_assert(!ucwa_policy_set_has_tag(set, "Redmond"));
    ck_assert_ptr_eq(ucwa_policy_resolve(set, "Redmond", "MarketingPolicy"), redmond);
    ck_assert_ptr_eq(ucwa_policy_resolve(set, "Paris", "MarketingPolicy"),
                     ucwa_policy_set_global(set));
}
END_TEST

static const char *prop(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);

    ck_assert_msg(json_is_string(v), "property %s missing or not a string", key);
    return json_string_value(v);
}

START_TEST(resource_wifi_switches)
{
    static const char *const expect[][2] = {
        { "telephonyMode", "Uc" },
        { "audioOnlyOnWifi", "Enabled" },
        { "videoOnlyOnWifi", "Enabled" },
        { "sharingOnlyOnWifi", "Enabled" },
        { "customerExperienceImprovementProgram", "Disabled" },
        { "saveCallLogs", "Enabled" },
        { "clientExchangeConnectivity", "Enabled" },
        { "saveMessagingHistory", "Disabled" },
        { "saveCredentials", "Enabled" },
        { "encryptAppData", "Enabled" },
        { "allowDeviceContactsSync", "Enabled" },
        { "photos", "Enabled" },
        { "emoticons", "Enabled" },
        { "htmlMessaging", "Enabled" },
        { "logging", "Disabled" },
        { "messageArchiving", "Disabled" },
        { "callLogArchiving", "Disabled" },
        { "exchangeUnifiedMessaging", "Disabled" },
        { "rel", "policies" },
    };
    const char *href = "/ucwa/oauth/v1/applications/105/policies";
    json_t *j, *self;
    size_t i;

    ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol, "RequireWiFiForIPAudio", "on"));
    ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol, "RequireWiFiForIPVideo", "true"));
    ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol, "RequireWiFiForSharing", "1"));
    ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol,
                                             "AllowCustomerExperienceImprovementProgram", "off"));
    ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol, "AllowSaveIMHistory", "off"));
    j = ucwa_policy_resource(pool, &pol, href);
    ck_assert_ptr_nonnull(j);
    for (i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        ck_assert_msg(!strcmp(prop(j, expect[i][0]), expect[i][1]), "%s: '%s', want '%s'",
                      expect[i][0], prop(j, expect[i][0]), expect[i][1]);
    }
    self = json_object_get(json_object_get(json_object_get(j, "_links"), "self"), "href");
    ck_assert_str_eq(json_string_value(self), href);
    /* nothing else: the listed properties plus _links */
    ck_assert_uint_eq(json_object_size(j), sizeof(expect) / sizeof(expect[0]) + 1);
    /* the serialised form is what the lead sends: compact, rel last */
    {
        const char *s = mob_json_dump(pool, j, NULL);
        ck_assert_ptr_nonnull(s);
        ck_assert_ptr_nonnull(strstr(s, "\"audioOnlyOnWifi\":\"Enabled\""));
        ck_assert_ptr_nonnull(strstr(s, "\"rel\":\"policies\"}"));
    }
}
END_TEST

START_TEST(resource_defaults_and_telephony)
{
    json_t *j = ucwa_policy_resource(pool, &pol, "/p");

    ck_assert_str_eq(prop(j, "telephonyMode"), "Uc");
    ck_assert_str_eq(prop(j, "audioOnlyOnWifi"), "Disabled");
    ck_assert_str_eq(prop(j, "videoOnlyOnWifi"), "Disabled");
    ck_assert_str_eq(prop(j, "sharingOnlyOnWifi"), "Disabled");
    ck_assert_str_eq(prop(j, "saveCredentials"), "Enabled");
    ck_assert_str_eq(prop(j, "customerExperienceImprovementProgram"), "Enabled");

    ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol, "EnableIPAudioVideo", "off"));
    j = ucwa_policy_resource(pool, &pol, "/p");
    ck_assert_str_eq(prop(j, "telephonyMode"), "RemoteCallControl");
    ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol, "EnableOutsideVoice", "off"));
    j = ucwa_policy_resource(pool, &pol, "/p");
    ck_assert_str_eq(prop(j, "telephonyMode"), "None");
    ck_assert_ptr_null(ucwa_policy_set_param(pool, &pol, "EnableIPAudioVideo", "on"));
    j = ucwa_policy_resource(pool, &pol, "/p");
    ck_assert_str_eq(prop(j, "telephonyMode"), "Uc");
}
END_TEST

START_TEST(fingerprint)
{
    static const char *const voices[] = { "VoIPOverWiFi", "Cellular" };
    apr_uint32_t base = ucwa_policy_fingerprint(&pol), h;
    ucwa_policy copy;
    size_t i;

    /* the same settings: the same fingerprint, whatever the identity or the memory */
    memcpy(&copy, &pol, sizeof(pol));
    copy.scope = UCWA_POLICY_TAG;
    copy.name = "SalesPolicy";
    ck_assert_uint_eq(ucwa_policy_fingerprint(&copy), base);
    ck_assert_uint_eq(ucwa_policy_fingerprint(&copy), ucwa_policy_fingerprint(&copy));

    /* every boolean, flipped alone */
    for (i = 0; i < NBOOLS; i++) {
        memcpy(&copy, &pol, sizeof(pol));
        *member(&copy, i) = !*member(&copy, i);
        h = ucwa_policy_fingerprint(&copy);
        ck_assert_msg(h != base, "%s does not change the fingerprint", bools[i].name);
        *member(&copy, i) = !*member(&copy, i);
        ck_assert_uint_eq(ucwa_policy_fingerprint(&copy), base);
    }
    /* two different booleans flipped give different fingerprints too */
    {
        apr_uint32_t seen[NBOOLS];
        size_t k;
        for (i = 0; i < NBOOLS; i++) {
            memcpy(&copy, &pol, sizeof(pol));
            *member(&copy, i) = !*member(&copy, i);
            seen[i] = ucwa_policy_fingerprint(&copy);
            for (k = 0; k < i; k++) {
                ck_assert_msg(seen[k] != seen[i], "%s and %s collide", bools[k].name,
                              bools[i].name);
            }
        }
    }
    /* VoiceSettings */
    for (i = 0; i < 2; i++) {
        memcpy(&copy, &pol, sizeof(pol));
        ck_assert_ptr_null(ucwa_policy_set_param(pool, &copy, "VoiceSettings", voices[i]));
        ck_assert_msg(ucwa_policy_fingerprint(&copy) != base, "VoiceSettings %s", voices[i]);
    }
    /* Description: its text counts, not where it is stored; "" is no description */
    memcpy(&copy, &pol, sizeof(pol));
    ck_assert_ptr_null(ucwa_policy_set_param(pool, &copy, "Description", "Sales"));
    h = ucwa_policy_fingerprint(&copy);
    ck_assert_uint_ne(h, base);
    copy.description = apr_pstrdup(pool, "Sales");
    ck_assert_uint_eq(ucwa_policy_fingerprint(&copy), h);
    copy.description = "Sales ";
    ck_assert_uint_ne(ucwa_policy_fingerprint(&copy), h);
    copy.description = "";
    ck_assert_uint_eq(ucwa_policy_fingerprint(&copy), base);

    /* set_param to the value it already has changes nothing */
    memcpy(&copy, &pol, sizeof(pol));
    ck_assert_ptr_null(ucwa_policy_set_param(pool, &copy, "EnableMobility", "True"));
    ck_assert_ptr_null(ucwa_policy_set_param(pool, &copy, "RequireIntune", "off"));
    ck_assert_uint_eq(ucwa_policy_fingerprint(&copy), base);

    /* stable across builds and processes: the defaults' value is pinned (recomputed
     * independently from the documented serialisation) */
    ck_assert_uint_eq(base, 0x400dd10au);
    ck_assert_uint_eq(ucwa_policy_fingerprint(ucwa_policy_set_global(set)), base);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ucwa_policy");
    TCase *tc = tcase_create("ucwa_policy");

    tcase_add_checked_fixture(tc, setup, unit_pool_teardown);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, set_booleans);
    tcase_add_test(tc, set_voice_and_description);
    tcase_add_test(tc, set_bad);
    tcase_add_test(tc, derived);
    tcase_add_test(tc, identities);
    tcase_add_test(tc, identities_bad);
    tcase_add_test(tc, duplicates);
    tcase_add_test(tc, global_always_exists);
    tcase_add_test(tc, precedence);
    tcase_add_test(tc, unknown_tag_falls_back);
    tcase_add_test(tc, resource_wifi_switches);
    tcase_add_test(tc, resource_defaults_and_telephony);
    tcase_add_test(tc, fingerprint);
    suite_add_tcase(s, tc);
    return unit_run("test_ucwa_policy", s);
}
