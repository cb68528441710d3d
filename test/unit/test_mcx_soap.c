/* common/mcx/mcx_soap: MCX requests read, responses and faults written (docs/mcx-protocol.md). */
#include <libxml/parser.h>

#include "unit.h"
#include "mcx_soap.h"

#define ENV(x) "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" " \
               "xmlns:m=\"urn:mobility-httpd:mcx:1\"><s:Body>" x "</s:Body></s:Envelope>"

static mcx_parse_status parse(const char *body, mcx_request *rq, const char **why)
{
    return mcx_soap_parse(pool, body, strlen(body), 65536, rq, why);
}

START_TEST(reads_operation_and_fields)
{
    mcx_request rq;
    const char *why = NULL;

    ck_assert_int_eq(parse(ENV("<m:SubscribePresence> <m:SessionId>12</m:SessionId>"
                               "<m:Uri>sip:a@x</m:Uri><!-- c --><m:Uri>sip:b&amp;c@x</m:Uri>"
                               "</m:SubscribePresence>"), &rq, &why), MCX_PARSE_OK);
    ck_assert_str_eq(rq.op, "SubscribePresence");
    ck_assert_str_eq(mcx_field(&rq, "SessionId"), "12");
    ck_assert_int_eq(apr_table_elts(rq.fields)->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(apr_table_elts(rq.fields), 2, apr_table_entry_t).val,
                     "sip:b&c@x");
    ck_assert_ptr_null(mcx_field(&rq, "Missing"));
}
END_TEST

START_TEST(refusals)
{
    static const struct { const char *body; mcx_parse_status st; } cases[] = {
        { "<x/>", MCX_PARSE_BAD },
        { "not xml", MCX_PARSE_BAD },
        { ENV(""), MCX_PARSE_BAD },
        { ENV("<m:SignIn/><m:SignOut/>"), MCX_PARSE_BAD },
        { ENV("<SignIn/>"), MCX_PARSE_BAD },
        { ENV("<m:SignIn>text</m:SignIn>"), MCX_PARSE_BAD },
        { ENV("<v:SignIn xmlns:v=\"urn:mobility-httpd:mcx:2\"/>"), MCX_PARSE_VERSION },
        { "<!DOCTYPE s:Envelope [<!ENTITY a \"b\">]>" ENV("<m:SignIn>&a;</m:SignIn>"),
          MCX_PARSE_XML_REFUSED },
        { "<!DOCTYPE x SYSTEM \"file:///etc/passwd\">" ENV("<m:SignIn/>"),
          MCX_PARSE_XML_REFUSED },
        { ENV("<m:SignIn><m:D>&ext;</m:D></m:SignIn>"), MCX_PARSE_XML_REFUSED },
        { ENV("<m:SignIn><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a></a></a></a></a></a>"
              "</a></a></a></a></a></a></a></a></a></a></m:SignIn>"), MCX_PARSE_XML_REFUSED },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mcx_request rq;
        const char *why = NULL;
        ck_assert_msg(parse(cases[i].body, &rq, &why) == cases[i].st, "case %zu", i);
        ck_assert_ptr_nonnull(why);
        ck_assert_ptr_null(strstr(why, "passwd"));
    }
}
END_TEST

START_TEST(structured_fields_are_skipped)
{
    mcx_request rq;
    const char *why = NULL;

    ck_assert_int_eq(parse(ENV("<m:SignIn><m:DeviceId><b/>x</m:DeviceId><m:Options><m:F>1"
                               "</m:F></m:Options><m:Culture>en</m:Culture></m:SignIn>"),
                           &rq, &why), MCX_PARSE_OK);
    ck_assert_ptr_null(mcx_field(&rq, "DeviceId"));
    ck_assert_ptr_null(mcx_field(&rq, "Options"));
    ck_assert_str_eq(mcx_field(&rq, "Culture"), "en");
}
END_TEST

START_TEST(too_large)
{
    mcx_request rq;
    const char *why = NULL, *body = ENV("<m:SignIn/>");

    ck_assert_int_eq(mcx_soap_parse(pool, body, strlen(body), 20, &rq, &why),
                     MCX_PARSE_TOO_LARGE);
}
END_TEST

START_TEST(response_round_trip)
{
    mcx_out *o = mcx_out_begin(pool, "GetNotificationsResponse");
    mcx_request rq;
    const char *out, *why = NULL;
    apr_size_t len = 0;

    mcx_out_start(o, "Message");
    mcx_out_attr(o, "From", "sip:\"b\"<b>@x");
    mcx_out_content(o, "a < b & \x01 c");
    mcx_out_end(o);
    mcx_out_text(o, "Note", "\xff bad utf-8");
    out = mcx_out_finish(o, &len);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(mcx_soap_parse(pool, out, len, 65536, &rq, &why), MCX_PARSE_OK);
    ck_assert_str_eq(rq.op, "GetNotificationsResponse");
    /* characters XML cannot carry become U+FFFD */
    ck_assert_str_eq(mcx_field(&rq, "Message"), "a < b & \xef\xbf\xbd c");
    ck_assert_str_eq(mcx_field(&rq, "Note"), "\xef\xbf\xbd bad utf-8");
    ck_assert_ptr_nonnull(strstr(out, "From=\"sip:&quot;b&quot;&lt;b&gt;@x\""));
}
END_TEST

START_TEST(fault)
{
    apr_size_t len = 0;
    const char *f = mcx_soap_fault(pool, 1, "SessionExpired", 410, "Sign <in> again", &len);

    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(strstr(f, "<faultcode>s:Client</faultcode>"));
    ck_assert_ptr_nonnull(strstr(f, "<faultstring>Sign &lt;in&gt; again</faultstring>"));
    ck_assert_ptr_nonnull(strstr(f, "<m:Code>SessionExpired</m:Code><m:Status>410</m:Status>"));
    f = mcx_soap_fault(pool, 0, "ServiceFailure", 0, "x", &len);
    ck_assert_ptr_nonnull(strstr(f, "s:Server"));
    ck_assert_ptr_null(strstr(f, "<m:Status>"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mcx_soap");
    TCase *tc = unit_tcase("mcx_soap");
    int rc;

    xmlInitParser();
    tcase_add_test(tc, reads_operation_and_fields);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, structured_fields_are_skipped);
    tcase_add_test(tc, too_large);
    tcase_add_test(tc, response_round_trip);
    tcase_add_test(tc, fault);
    suite_add_tcase(s, tc);
    rc = unit_run("test_mcx_soap", s);
    xmlCleanupParser();
    return rc;
}
