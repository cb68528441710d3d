#include <string.h>
#include <strings.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <jansson.h>

#include "mob_json.h"
#include "ucwa_synth.h"

#define TEXT "synthetic-transaction"   /* the message; no character needs escaping */
#define EVENT_WAIT_DEFAULT apr_time_from_sec(20)

typedef struct {
    apr_pool_t *p;
    const ucwa_synth_params *in;
    ucwa_synth_result *out;
} run_ctx;

/* One test user as a mobile client outside. */
typedef struct {
    const char *user, *password;
    const char *token, *origin, *app, *events;
} client;

static apr_time_t now_of(const run_ctx *x)
{
    return x->in->clock ? x->in->clock() : apr_time_now();
}

static void record(run_ctx *x, const char *name, const char *url, int ok, apr_time_t t0)
{
    ucwa_synth_step *s = apr_array_push(x->out->steps);

    s->name = name;
    s->url = url;
    s->ok = ok;
    s->took = now_of(x) - t0;
    if (!ok) {
        x->out->ok = 0;
        x->out->failed_step = name;
        x->out->failed_url = url;
    }
}

static int fail(run_ctx *x, const char *name, const char *url, apr_time_t t0, const char *why)
{
    x->out->error = why;
    record(x, name, url, 0, t0);
    return 0;
}

/* origin + href when href is a path. */
static const char *absolute(run_ctx *x, const client *c, const char *href)
{
    return href[0] == '/' && c->origin ? apr_pstrcat(x->p, c->origin, href, NULL) : href;
}

static const char *answer_error(run_ctx *x, const ucwa_synth_answer *a)
{
    if (a->status == 0) {
        return a->error ? a->error : "no answer";
    }
    return apr_psprintf(x->p, "HTTP %d", a->status);
}

/* One exchange: the answer's JSON in *json (NULL when it is none); non-zero when the
 * status is want (or want2). The step is recorded only when it fails, or when done. */
static int call(run_ctx *x, const client *c, const char *name, const char *method,
                const char *url, const char *ctype, const char *body, int want, int want2,
                int done, ucwa_synth_answer *a, json_t **json, apr_time_t *t0)
{
    json_error_t jerr;

    *t0 = now_of(x);
    memset(a, 0, sizeof(*a));
    x->in->http(x->in->baton, x->p, method, url, c->token, ctype, body, a);
    if (json) {
        *json = a->body && a->len ? mob_json_own(x->p, json_loadb(a->body, a->len, 0, &jerr))
                                  : NULL;
    }
    if (a->status != want && a->status != want2) {
        return fail(x, name, url, *t0, answer_error(x, a));
    }
    if (done) {
        record(x, name, url, 1, *t0);
    }
    return 1;
}

static const char *step_name(run_ctx *x, const client *c, const char *what)
{
    return apr_pstrcat(x->p, c->user, ": ", what, NULL);
}

/* The href of rel=... in the WWW-Authenticate MsRtcOAuth challenge. */
static const char *challenge_href(apr_pool_t *p, const char *h)
{
    const char *m = h ? strstr(h, "MsRtcOAuth") : NULL;
    const char *v, *end;

    if (!m || !(v = strstr(m, "href=\""))) {
        return NULL;
    }
    v += 6;
    end = strchr(v, '"');
    return end && end > v ? apr_pstrmemdup(p, v, (apr_size_t)(end - v)) : NULL;
}

static const char *form_escape(apr_pool_t *p, const char *s)
{
    char *out = apr_palloc(p, 3 * strlen(s) + 1), *o = out;

    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (apr_isalnum(ch) || strchr("-._~@", ch)) {
            *o++ = (char)ch;
        }
        else {
            o += apr_snprintf(o, 4, "%%%02X", ch);
        }
    }
    *o = '\0';
    return out;
}

static int sign_in(run_ctx *x, client *c)
{
    ucwa_synth_answer a;
    json_t *j;
    apr_time_t t0;
    const char *name, *user_url, *token_url, *apps, *body;

    name = step_name(x, c, "discovery");
    if (!call(x, c, name, "GET", x->in->discovery, NULL, NULL, 200, 200, 0, &a, &j, &t0)) {
        return 0;
    }
    if (!(user_url = mob_json_href(j, "user"))) {
        return fail(x, name, x->in->discovery, t0, "no user link");
    }
    record(x, name, x->in->discovery, 1, t0);

    name = step_name(x, c, "user resource: challenge");
    if (!call(x, c, name, "GET", user_url, NULL, NULL, 401, 401, 0, &a, NULL, &t0)) {
        return 0;
    }
    if (!(token_url = challenge_href(x->p, a.www_authenticate))) {
        return fail(x, name, user_url, t0, "401 without an MsRtcOAuth token endpoint");
    }
    record(x, name, user_url, 1, t0);

    name = step_name(x, c, "token");
    body = apr_pstrcat(x->p, "grant_type=password&username=", form_escape(x->p, c->user),
                       "&password=", form_escape(x->p, c->password), NULL);
    if (!call(x, c, name, "POST", token_url, "application/x-www-form-urlencoded", body, 200,
              200, 0, &a, &j, &t0)) {
        return 0;
    }
    if (!(c->token = mob_json_str(j, "access_token"))) {
        return fail(x, name, token_url, t0, "no access_token in the answer");
    }
    record(x, name, token_url, 1, t0);

    name = step_name(x, c, "user resource");
    if (!call(x, c, name, "GET", user_url, NULL, NULL, 200, 200, 0, &a, &j, &t0)) {
        return 0;
    }
    if (!(apps = mob_json_href(j, "applications"))) {
        const char *to = mob_json_href(j, "redirect");
        return fail(x, name, user_url, t0, to
                    ? apr_pstrcat(x->p, "no applications link: a redirect to ", to,
                                  " (the user is homed on another pool)", NULL)
                    : "no applications link");
    }
    record(x, name, user_url, 1, t0);
    {
        /* the origin of the applications URL: where the application's paths are */
        const char *host = strstr(apps, "://");
        const char *path = host ? strchr(host + 3, '/') : NULL;
        c->origin = path ? apr_pstrmemdup(x->p, apps, (apr_size_t)(path - apps)) : apps;
    }

    name = step_name(x, c, "create application");
    body = apr_psprintf(x->p, "{\"userAgent\":\"mod_ucwa synthetic transaction\","
                        "\"endpointId\":\"synthetic-%" APR_TIME_T_FMT "\",\"culture\":\"en-US\"}",
                        now_of(x));
    if (!call(x, c, name, "POST", apps, "application/json", body, 201, 200, 0, &a, &j, &t0)) {
        return 0;
    }
    c->app = mob_json_href(j, "self");
    c->events = mob_json_href(j, "events");
    if (!c->app || !c->events) {
        return fail(x, name, apps, t0, "the application has no self or events link");
    }
    record(x, name, apps, 1, t0);

    return call(x, c, step_name(x, c, "makeMeAvailable"), "POST",
                absolute(x, c, apr_pstrcat(x->p, c->app, "/me/makeMeAvailable", NULL)),
                "application/json", "{\"SupportedModalities\":[\"Messaging\"]}", 204, 200, 1,
                &a, NULL, &t0);
}

static int presence(run_ctx *x, client *c, const client *other)
{
    const char *name = apr_pstrcat(x->p, c->user, ": presence of ", other->user, NULL);
    const char *url = absolute(x, c, apr_pstrcat(x->p, c->app, "/people/", other->user,
                                                 "/presence", NULL));
    const char *avail;
    ucwa_synth_answer a;
    apr_time_t t0;
    json_t *j;

    if (!call(x, c, name, "GET", url, NULL, NULL, 200, 200, 0, &a, &j, &t0)) {
        return 0;
    }
    avail = mob_json_str(j, "availability");
    if (!avail || !strcasecmp(avail, "Offline")) {
        return fail(x, name, url, t0, apr_pstrcat(x->p, other->user, " is ",
                                                  avail ? avail : "unknown",
                                                  " although signed in", NULL));
    }
    record(x, name, url, 1, t0);
    return 1;
}

/* The first event (link rel, type) on c's event channel within the event wait; its
 * embedded resource in *res. The waiting is the step's time. */
static int wait_event(run_ctx *x, client *c, const char *what, const char *rel,
                      const char *type, const json_t **res)
{
    const char *name = step_name(x, c, what);
    apr_interval_time_t wait = x->in->event_wait ? x->in->event_wait : EVENT_WAIT_DEFAULT;
    apr_time_t start = now_of(x), t0;
    ucwa_synth_answer a;
    json_t *j;

    while (now_of(x) - start < wait) {
        const char *url = absolute(x, c, c->events);
        const json_t *next, *senders, *sender, *events, *e;
        size_t i, k;
        if (!call(x, c, name, "GET", url, NULL, NULL, 200, 200, 0, &a, &j, &t0)) {
            return 0;
        }
        next = mob_json_obj(mob_json_obj(j, "_links"), "next");
        if (!next) {
            next = mob_json_obj(mob_json_obj(j, "_links"), "resync");
        }
        if (mob_json_str(next, "href")) {
            c->events = mob_json_str(next, "href");
        }
        senders = j ? json_object_get(j, "sender") : NULL;
        json_array_foreach(senders, i, sender) {
            events = json_object_get(sender, "events");
            json_array_foreach(events, k, e) {
                const char *r = mob_json_str(mob_json_obj(e, "link"), "rel");
                const char *t = mob_json_str(e, "type");
                if (r && t && !strcmp(r, rel) && !strcmp(t, type)) {
                    const json_t *emb = mob_json_obj(e, "_embedded");
                    *res = emb ? mob_json_obj(emb, rel) : NULL;
                    record(x, name, url, 1, start);
                    return 1;
                }
            }
        }
    }
    return fail(x, name, absolute(x, c, c->events), start,
                apr_psprintf(x->p, "no %s %s event in %" APR_TIME_T_FMT " s", rel, type,
                             apr_time_sec(wait)));
}

static int message(run_ctx *x, client *a, client *b)
{
    ucwa_synth_answer ans;
    const json_t *inv = NULL, *msg = NULL;
    const char *accept, *text;
    apr_time_t t0;

    if (!call(x, a, apr_pstrcat(x->p, a->user, ": invite ", b->user, " with a message", NULL),
              "POST", absolute(x, a, apr_pstrcat(x->p, a->app,
                                                 "/communication/messagingInvitations", NULL)),
              "application/json",
              apr_pstrcat(x->p, "{\"to\":\"sip:", b->user, "\",\"_links\":{\"message\":"
                          "{\"href\":\"data:text/plain;charset=utf-8," TEXT "\"}}}", NULL),
              201, 201, 1, &ans, NULL, &t0)) {
        return 0;
    }
    if (!wait_event(x, b, "invitation arrives", "messagingInvitation", "started", &inv)) {
        return 0;
    }
    accept = mob_json_href(inv, "accept");
    if (!accept) {
        return fail(x, step_name(x, b, "accept"), absolute(x, b, b->app), now_of(x),
                    "the invitation has no accept link");
    }
    if (!call(x, b, step_name(x, b, "accept"), "POST", absolute(x, b, accept), NULL, NULL,
              204, 200, 1, &ans, NULL, &t0)) {
        return 0;
    }
    if (!wait_event(x, b, "message arrives", "message", "completed", &msg)) {
        return 0;
    }
    text = mob_json_href(msg, "plainMessage");
    if (!text || !strstr(text, TEXT)) {
        return fail(x, step_name(x, b, "message arrives"), absolute(x, b, b->events),
                    now_of(x), apr_pstrcat(x->p, "the message reads ",
                                           text ? text : "nothing", ", not " TEXT, NULL));
    }
    return wait_event(x, a, "invitation accepted", "messagingInvitation", "completed", &inv);
}

/* DELETE of the application: recorded when record is set (the last steps of a run that
 * went well), silently otherwise (after a failure). */
static int sign_out(run_ctx *x, client *c, int done)
{
    const char *app = c->app;
    ucwa_synth_answer a;
    apr_time_t t0;

    if (!app) {
        return 1;
    }
    c->app = NULL;
    if (done) {
        return call(x, c, step_name(x, c, "sign out"), "DELETE", absolute(x, c, app), NULL,
                    NULL, 204, 200, 1, &a, NULL, &t0);
    }
    memset(&a, 0, sizeof(a));
    x->in->http(x->in->baton, x->p, "DELETE", absolute(x, c, app), c->token, NULL, NULL, &a);
    return 1;
}

void ucwa_synth_run(apr_pool_t *p, const ucwa_synth_params *in, ucwa_synth_result *out)
{
    run_ctx x = { p, in, out };
    client a, b;
    int ok;

    memset(out, 0, sizeof(*out));
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    out->steps = apr_array_make(p, 24, sizeof(ucwa_synth_step));
    out->started = now_of(&x);
    out->ok = 1;
    a.user = in->user[0];
    a.password = in->password[0] ? in->password[0] : "";
    b.user = in->user[1];
    b.password = in->password[1] ? in->password[1] : "";
    ok = sign_in(&x, &a) && sign_in(&x, &b) && presence(&x, &a, &b) && presence(&x, &b, &a)
         && message(&x, &a, &b) && sign_out(&x, &a, 1) && sign_out(&x, &b, 1);
    if (!ok) {
        sign_out(&x, &a, 0);
        sign_out(&x, &b, 0);
    }
    out->took = now_of(&x) - out->started;
}

static json_t *step_json(const ucwa_synth_step *s)
{
    return json_pack("{s:s,s:s,s:b,s:I}", "name", s->name, "url", s->url ? s->url : "",
                     "ok", s->ok, "ms", (json_int_t)apr_time_as_msec(s->took));
}

const char *ucwa_synth_json(apr_pool_t *p, const ucwa_synth_result *r,
                            const char *const user[2], apr_uint32_t interval, apr_size_t max)
{
    char date[APR_RFC822_DATE_LEN + 8];
    apr_time_exp_t tm;
    apr_size_t len = 0, rs;
    json_t *o, *steps;
    const char *text = NULL;
    int n, i;

    apr_time_exp_gmt(&tm, r->started);
    apr_strftime(date, &rs, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* drop steps from the end, never the failed one (the last), until it fits */
    for (n = r->steps->nelts; n >= 0; n--) {
        o = mob_json_own(p, json_pack("{s:[s,s],s:I,s:s,s:I,s:s,s:f}", "users", user[0],
                                      user[1], "interval", (json_int_t)interval, "started",
                                      date, "startedEpoch",
                                      (json_int_t)apr_time_sec(r->started), "result",
                                      r->ok ? "ok" : "failed", "seconds",
                                      (double)apr_time_as_msec(r->took) / 1000.0));
        if (!o) {
            return NULL;
        }
        steps = json_array();
        for (i = 0; i < n; i++) {
            json_array_append_new(steps, step_json(&APR_ARRAY_IDX(r->steps, i,
                                                                  ucwa_synth_step)));
        }
        if (!r->ok && n < r->steps->nelts && r->steps->nelts > 0) {
            json_array_append_new(steps, step_json(&APR_ARRAY_IDX(r->steps,
                                                                  r->steps->nelts - 1,
                                                                  ucwa_synth_step)));
        }
        json_object_set_new(o, "steps", steps);
        if (!r->ok) {
            json_object_set_new(o, "failedStep", json_string(r->failed_step ? r->failed_step
                                                             : ""));
            json_object_set_new(o, "failedHop", json_string(r->failed_url ? r->failed_url
                                                            : ""));
            json_object_set_new(o, "error", json_string(r->error ? r->error : ""));
        }
        text = mob_json_dump(p, o, &len);
        if (text && len < max) {
            return text;
        }
        if (!r->ok && n == r->steps->nelts) {
            n--;   /* the failed step is added separately from now on */
        }
    }
    return NULL;
}

const char *ucwa_synth_summary(apr_pool_t *p, const ucwa_synth_result *r)
{
    char *s;
    int i;

    if (!r->ok) {
        return apr_psprintf(p, "failed at \"%s\" (%s) after %.2f s: %s",
                            r->failed_step ? r->failed_step : "?",
                            r->failed_url ? r->failed_url : "?",
                            (double)apr_time_as_msec(r->took) / 1000.0,
                            r->error ? r->error : "error");
    }
    s = apr_psprintf(p, "ok in %.2f s:", (double)apr_time_as_msec(r->took) / 1000.0);
    for (i = 0; i < r->steps->nelts; i++) {
        const ucwa_synth_step *st = &APR_ARRAY_IDX(r->steps, i, ucwa_synth_step);
        s = apr_psprintf(p, "%s%s %s %" APR_TIME_T_FMT " ms", s, i ? "," : "", st->name,
                         apr_time_as_msec(st->took));
    }
    return s;
}

const char *ucwa_synth_password(apr_pool_t *p, const char *text, const char *user)
{
    const char *line = text;
    size_t ulen = strlen(user);

    while (line && *line) {
        const char *end = strchr(line, '\n'), *q = line, *v, *e;
        if (!end) {
            end = line + strlen(line);
        }
        while (q < end && apr_isspace(*q)) {
            q++;
        }
        if (q < end && *q != '#' && (size_t)(end - q) > ulen && !strncasecmp(q, user, ulen)
            && apr_isspace(q[ulen])) {
            v = q + ulen;
            while (v < end && apr_isspace(*v)) {
                v++;
            }
            e = end;
            while (e > v && apr_isspace(e[-1])) {
                e--;
            }
            if (e > v) {
                return apr_pstrmemdup(p, v, (apr_size_t)(e - v));
            }
        }
        line = *end ? end + 1 : NULL;
    }
    return NULL;
}
