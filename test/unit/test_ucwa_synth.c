/* ucwa_synth: the synthetic transaction's steps against a scripted server that answers
 * as the Front End does (discovery, challenge, token, user resource or a redirect for a
 * user homed elsewhere, applications, presence, messaging events), the hop named when a
 * step fails, the applications deleted after a failure, the /ucwa-status JSON and the
 * log summary (no password), and the credentials file. */
#include <jansson.h>

#include "unit.h"
#include "ucwa_synth.h"

#define DISCOVERY "https://lyncdiscover.contoso.test/"
#define USER_URL "https://webext.contoso.test/Autodiscover/AutodiscoverService.svc/root/oauth/user"
#define TOKEN_URL "https://webext.contoso.test/WebTicket/oauthtoken"
#define APPS_URL "https://webext.contoso.test/ucwa/oauth/v1/applications"

/* The scripted server's state. */
typedef struct {
    json_t *queue[2];          /* the events waiting for alice's (0) and bob's (1) app */
    int deleted[2];
    int calls;
    const char *offline;       /* presence answered Offline for this user */
    int no_events;             /* the invitation never arrives */
    char log[8192];            /* every request, "METHOD url\n" (bodies not included) */
} server;

static apr_time_t clock_now;

static apr_time_t fake_clock(void)
{
    return clock_now += apr_time_from_msec(1);
}

static int who(const char *bearer)
{
    return bearer && strstr(bearer, "bob") ? 1 : 0;
}

static void answer(apr_pool_t *p, ucwa_synth_answer *out, int status, json_t *j)
{
    out->status = status;
    if (j) {
        char *s = json_dumps(j, JSON_COMPACT);
        out->body = apr_pstrdup(p, s);
        out->len = strlen(s);
        free(s);
        json_decref(j);
    }
}

static void post_event(server *sv, int to, const char *rel, const char *type, json_t *res)
{
    json_t *e = json_pack("{s:{s:s,s:s},s:s}", "link", "rel", rel, "href", "/x", "type", type);

    if (res) {
        json_object_set_new(e, "_embedded", json_pack("{s:o}", rel, res));
    }
    json_array_append_new(sv->queue[to], e);
}

static void fake_http(void *baton, apr_pool_t *p, const char *method, const char *url,
                      const char *bearer, const char *ctype, const char *body,
                      ucwa_synth_answer *out)
{
    server *sv = baton;
    int me = who(bearer);
    const char *app = me ? "/ucwa/oauth/v1/applications/B" : "/ucwa/oauth/v1/applications/A";
    const char *origin = "https://webext.contoso.test";

    sv->calls++;
    apr_cpystrn(sv->log + strlen(sv->log), apr_pstrcat(p, method, " ", url, "\n", NULL),
                sizeof(sv->log) - strlen(sv->log));
    if (!strcmp(url, DISCOVERY)) {
        answer(p, out, 200, json_pack("{s:{s:{s:s}}}", "_links", "user", "href", USER_URL));
    }
    else if (!strcmp(url, USER_URL) && !bearer) {
        out->status = 401;
        out->www_authenticate = "Bearer trusted_issuers=\"\", client_id=\"00000004\", "
                                "MsRtcOAuth href=\"" TOKEN_URL "\",grant_type=\"password\"";
    }
    else if (!strcmp(url, TOKEN_URL)) {
        const char *u = strstr(body, "username=") + 9;
        ck_assert_str_eq(ctype, "application/x-www-form-urlencoded");
        ck_assert_ptr_nonnull(strstr(body, "password=Pa%20ss%26word"));
        answer(p, out, 200, json_pack("{s:s}", "access_token",
                                      apr_pstrndup(p, u, strcspn(u, "&"))));
    }
    else if (!strcmp(url, USER_URL)) {
        if (strstr(bearer, "carol")) {
            answer(p, out, 200, json_pack("{s:{s:{s:s}}}", "_links", "redirect", "href",
                                          "https://webext2.contoso.test/Autodiscover/"));
        }
        else {
            answer(p, out, 200, json_pack("{s:{s:{s:s}}}", "_links", "applications", "href",
                                          APPS_URL));
        }
    }
    else if (!strcmp(url, APPS_URL) && !strcmp(method, "POST")) {
        answer(p, out, 201, json_pack("{s:{s:{s:s},s:{s:s}}}", "_links", "self", "href", app,
                                      "events", "href",
                                      apr_pstrcat(p, app, "/events?ack=1", NULL)));
    }
    else if (strncmp(url, origin, strlen(origin))) {
        out->error = "could not resolve host";
    }
    else if ((url += strlen(origin)), strncmp(url, app, strlen(app))) {
        out->status = 403;   /* another user's application */
    }
    else if ((url += strlen(app)), !strcmp(url, "/me/makeMeAvailable")) {
        out->status = 204;
    }
    else if (!strncmp(url, "/people/", 8)) {
        answer(p, out, 200, json_pack("{s:s}", "availability",
                                      sv->offline && strstr(url, sv->offline) ? "Offline"
                                      : "Online"));
    }
    else if (!strcmp(url, "/communication/messagingInvitations")) {
        ck_assert_ptr_nonnull(strstr(body, "\"to\":\"sip:bob@contoso.test\""));
        if (!sv->no_events) {
            post_event(sv, 1, "messagingInvitation", "started",
                       json_pack("{s:{s:{s:s}}}", "_links", "accept", "href",
                                 "/ucwa/oauth/v1/applications/B/communication/accept"));
        }
        out->status = 201;
    }
    else if (!strcmp(url, "/communication/accept")) {
        post_event(sv, 1, "message", "completed",
                   json_pack("{s:{s:{s:s}}}", "_links", "plainMessage", "href",
                             "data:text/plain;charset=utf-8,synthetic-transaction"));
        post_event(sv, 0, "messagingInvitation", "completed", NULL);
        out->status = 204;
    }
    else if (!strncmp(url, "/events", 7)) {
        json_t *pkg = json_pack("{s:{s:{s:s}},s:[{s:s,s:o}]}", "_links", "next", "href",
                                apr_pstrcat(p, app, "/events?ack=2", NULL), "sender",
                                "rel", "communication", "events", json_deep_copy(sv->queue[me]));
        json_array_clear(sv->queue[me]);
        answer(p, out, 200, pkg);
    }
    else if (!*url && !strcmp(method, "DELETE")) {
        sv->deleted[me]++;
        out->status = 204;
    }
    else {
        out->status = 404;
    }
}

static server *sv;

static void setup(void)
{
    unit_pool_setup();
    sv = calloc(1, sizeof(*sv));
    sv->queue[0] = json_array();
    sv->queue[1] = json_array();
    clock_now = apr_time_from_sec(1800000000);
}

static void teardown(void)
{
    json_decref(sv->queue[0]);
    json_decref(sv->queue[1]);
    free(sv);
    unit_pool_teardown();
}

static void params(ucwa_synth_params *in, const char *second)
{
    memset(in, 0, sizeof(*in));
    in->discovery = DISCOVERY;
    in->user[0] = "alice@contoso.test";
    in->user[1] = second;
    in->password[0] = in->password[1] = "Pa ss&word";
    in->http = fake_http;
    in->baton = sv;
    in->clock = fake_clock;
    in->event_wait = apr_time_from_msec(50);
}

static const ucwa_synth_step *step(const ucwa_synth_result *r, int i)
{
    return &APR_ARRAY_IDX(r->steps, i, ucwa_synth_step);
}

START_TEST(both_users_sign_in_see_each_other_exchange_a_message_and_sign_out)
{
    static const char *const names[] = {
        "alice@contoso.test: discovery", "alice@contoso.test: user resource: challenge",
        "alice@contoso.test: token", "alice@contoso.test: user resource",
        "alice@contoso.test: create application", "alice@contoso.test: makeMeAvailable",
        "bob@contoso.test: discovery", "bob@contoso.test: user resource: challenge",
        "bob@contoso.test: token", "bob@contoso.test: user resource",
        "bob@contoso.test: create application", "bob@contoso.test: makeMeAvailable",
        "alice@contoso.test: presence of bob@contoso.test",
        "bob@contoso.test: presence of alice@contoso.test",
        "alice@contoso.test: invite bob@contoso.test with a message",
        "bob@contoso.test: invitation arrives", "bob@contoso.test: accept",
        "bob@contoso.test: message arrives", "alice@contoso.test: invitation accepted",
        "alice@contoso.test: sign out", "bob@contoso.test: sign out",
    };
    ucwa_synth_params in;
    ucwa_synth_result r;
    const char *sum;
    int i;

    params(&in, "bob@contoso.test");
    ucwa_synth_run(pool, &in, &r);
    ck_assert_msg(r.ok, "%s", ucwa_synth_summary(pool, &r));
    ck_assert_int_eq(r.steps->nelts, sizeof(names) / sizeof(names[0]));
    for (i = 0; i < r.steps->nelts; i++) {
        ck_assert_str_eq(step(&r, i)->name, names[i]);
        ck_assert(step(&r, i)->ok);
        ck_assert(step(&r, i)->took > 0);
    }
    ck_assert_str_eq(step(&r, 2)->url, TOKEN_URL);
    ck_assert_str_eq(step(&r, 5)->url, "https://webext.contoso.test/ucwa/oauth/v1/applications/"
                                       "A/me/makeMeAvailable");
    ck_assert_int_eq(sv->deleted[0], 1);
    ck_assert_int_eq(sv->deleted[1], 1);
    ck_assert(r.took > 0);
    sum = ucwa_synth_summary(pool, &r);
    ck_assert_ptr_nonnull(strstr(sum, "ok in "));
    ck_assert_ptr_nonnull(strstr(sum, "bob@contoso.test: message arrives "));
    ck_assert_ptr_null(strstr(sum, "Pa ss"));
}
END_TEST

START_TEST(a_user_homed_elsewhere_fails_on_the_user_resource_and_the_first_signs_out)
{
    ucwa_synth_params in;
    ucwa_synth_result r;
    const char *sum;

    params(&in, "carol@contoso.test");
    ucwa_synth_run(pool, &in, &r);
    ck_assert(!r.ok);
    ck_assert_str_eq(r.failed_step, "carol@contoso.test: user resource");
    ck_assert_str_eq(r.failed_url, USER_URL);
    ck_assert_ptr_nonnull(strstr(r.error, "redirect to https://webext2.contoso.test/"));
    ck_assert(!step(&r, r.steps->nelts - 1)->ok);
    ck_assert_int_eq(r.steps->nelts, 10);   /* alice's six, carol's first four */
    ck_assert_int_eq(sv->deleted[0], 1);    /* alice's application deleted all the same */
    sum = ucwa_synth_summary(pool, &r);
    ck_assert_ptr_nonnull(strstr(sum, "failed at \"carol@contoso.test: user resource\" ("
                                      USER_URL ")"));
}
END_TEST

START_TEST(offline_presence_no_answer_and_a_missing_event_name_their_hop)
{
    ucwa_synth_params in;
    ucwa_synth_result r;

    params(&in, "bob@contoso.test");
    sv->offline = "bob@";
    ucwa_synth_run(pool, &in, &r);
    ck_assert(!r.ok);
    ck_assert_str_eq(r.failed_step, "alice@contoso.test: presence of bob@contoso.test");
    ck_assert_str_eq(r.error, "bob@contoso.test is Offline although signed in");
    ck_assert_int_eq(sv->deleted[0] + sv->deleted[1], 2);

    sv->offline = NULL;
    sv->no_events = 1;
    sv->deleted[0] = sv->deleted[1] = 0;
    ucwa_synth_run(pool, &in, &r);
    ck_assert(!r.ok);
    ck_assert_str_eq(r.failed_step, "bob@contoso.test: invitation arrives");
    ck_assert_ptr_nonnull(strstr(r.failed_url, "/ucwa/oauth/v1/applications/B/events"));
    ck_assert_ptr_nonnull(strstr(r.error, "no messagingInvitation started event"));
    ck_assert_int_eq(sv->deleted[0] + sv->deleted[1], 2);

    in.discovery = "https://nowhere.contoso.test/";
    ucwa_synth_run(pool, &in, &r);
    ck_assert(!r.ok);
    ck_assert_str_eq(r.failed_url, "https://nowhere.contoso.test/");
    ck_assert_str_eq(r.failed_step, "alice@contoso.test: discovery");
    ck_assert_int_eq(r.steps->nelts, 1);
}
END_TEST

START_TEST(status_json_and_what_does_not_fit)
{
    static const char *const users[2] = { "alice@contoso.test", "carol@contoso.test" };
    ucwa_synth_params in;
    ucwa_synth_result r;
    json_t *j, *steps;
    const char *text;

    params(&in, "carol@contoso.test");
    ucwa_synth_run(pool, &in, &r);
    text = ucwa_synth_json(pool, &r, users, 300, 65536);
    ck_assert_ptr_nonnull(text);
    j = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "result")), "failed");
    ck_assert_str_eq(json_string_value(json_object_get(j, "failedHop")), USER_URL);
    ck_assert_str_eq(json_string_value(json_object_get(j, "failedStep")),
                     "carol@contoso.test: user resource");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "interval")), 300);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "startedEpoch")), 1800000000);
    ck_assert_str_eq(json_string_value(json_object_get(j, "started")), "2027-01-15T08:00:00Z");
    steps = json_object_get(j, "steps");
    ck_assert_int_eq(json_array_size(steps), 10);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(steps, 0), "ms")), 1);
    json_decref(j);

    /* too small for every step: the first ones and the failed one */
    text = ucwa_synth_json(pool, &r, users, 300, 1200);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_lt(strlen(text), 1200);
    j = json_loads(text, 0, NULL);
    steps = json_object_get(j, "steps");
    ck_assert_uint_lt(json_array_size(steps), 10);
    ck_assert_uint_gt(json_array_size(steps), 1);
    ck_assert(!json_is_true(json_object_get(json_array_get(steps, json_array_size(steps) - 1),
                                            "ok")));
    json_decref(j);
    ck_assert_ptr_null(ucwa_synth_json(pool, &r, users, 300, 100));
}
END_TEST

START_TEST(credentials_file)
{
    const char *text = "# test users for the synthetic transaction\n"
                       "\n"
                       "  alice@contoso.test   Demo Passw0rd  \n"
                       "alice@contoso.testx other\n"
                       "bob@contoso.test\tsecret\r\n"
                       "carol@contoso.test\n"
                       "dave@contoso.test x";

    ck_assert_str_eq(ucwa_synth_password(pool, text, "alice@contoso.test"), "Demo Passw0rd");
    ck_assert_str_eq(ucwa_synth_password(pool, text, "ALICE@contoso.test"), "Demo Passw0rd");
    ck_assert_str_eq(ucwa_synth_password(pool, text, "bob@contoso.test"), "secret");
    ck_assert_ptr_null(ucwa_synth_password(pool, text, "carol@contoso.test"));
    ck_assert_str_eq(ucwa_synth_password(pool, text, "dave@contoso.test"), "x");
    ck_assert_ptr_null(ucwa_synth_password(pool, text, "erin@contoso.test"));
    ck_assert_ptr_null(ucwa_synth_password(pool, "", "alice@contoso.test"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ucwa_synth");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, both_users_sign_in_see_each_other_exchange_a_message_and_sign_out);
    tcase_add_test(tc, a_user_homed_elsewhere_fails_on_the_user_resource_and_the_first_signs_out);
    tcase_add_test(tc, offline_presence_no_answer_and_a_missing_event_name_their_hop);
    tcase_add_test(tc, status_json_and_what_does_not_fit);
    tcase_add_test(tc, credentials_file);
    suite_add_tcase(s, tc);
    return unit_run("test_ucwa_synth", s);
}
