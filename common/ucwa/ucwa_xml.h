/* The UCWA XML representation (application/vnd.microsoft.com.ucwa+xml), converted from
 * and to the JSON (HAL-style) documents the server builds.
 *
 * Output (ucwa_xml_resource, ucwa_xml_events, ucwa_xml_error): an XML document in
 * UTF-8 with an XML declaration, every element in the default namespace
 * UCWA_XML_NS, declared on the root. The strings come from jansson, so they are valid
 * UTF-8; characters that XML 1.0 cannot carry at all (NUL and the C0 controls other
 * than tab, LF and CR, U+FFFE, U+FFFF) are replaced by U+FFFD, so the output is always
 * well-formed. Element order inside a resource follows Microsoft's samples: the links,
 * then the properties in the order of the JSON object, then the embedded resources.
 *
 *   resource   <resource rel="R" href="SELF">    R = res["rel"] (the _embedded key when an
 *                                                embedded resource has no "rel" string),
 *                                                SELF = res["_links"]["self"]["href"];
 *                                                either attribute is left out when missing
 *   _links     <link rel="K" href=".." title=".."/> per link, in order, "self" left out;
 *              an array-valued rel gives one element per entry. Any other scalar member of
 *              a link object whose key is an XML name (e.g. "revision") becomes an
 *              attribute too. Entries without a string "href" are skipped.
 *   scalar     <property name="N">V</property>; strings as they are, true/false,
 *              integers in decimal, reals in the shortest form that reads back the same
 *              (integral values without a fraction); null: no element at all. N is any
 *              string (the GUID-named PUT property included): it is an attribute value.
 *   array      <propertyList name="N"><item>V</item>...</propertyList>, items as scalars
 *              above (null items left out); [] gives an empty propertyList. An object
 *              item is an <item> holding that object's property elements, an array item
 *              an <item> holding <item>s.
 *   object     (a property whose value is a plain object, not under _embedded)
 *              <property name="N"> holding the object rendered as a property bag: its
 *              members as property/propertyList/property elements, its "_links" as
 *              <link> elements ("self" included, there is no href attribute to carry it)
 *              and its "_embedded" as <resource> elements; "rel" is an ordinary
 *              property there.
 *   _embedded  <resource rel=".." href="..">...</resource> per embedded resource, in
 *              order; an array gives several.
 *
 * Events (ucwa_xml_events), after EventChannelDetails.md:
 *
 *   <events href="SELF">                      _links.self.href
 *     <link rel="next" href=".."/>            every other _links entry, in order
 *     <sender rel=".." href="..">             per sender, in array order (repeats kept)
 *       <TYPE rel=".." href=".." title=".." status="Success">
 *         <in rel=".." href=".." title=".."/>
 *         <reason><code>..</code><subcode>..</subcode><message>..</message></reason>
 *         <resource rel=".." href="..">...</resource>
 *       </TYPE>
 *
 * TYPE is the event's "type" (added, updated, deleted, started, completed); the
 * attributes come from its "link". Our choices, not confirmed against a real server:
 * "status" is an attribute of the event element (it is a single token, like rel and
 * href), and "reason" is a child element shaped like the error body of
 * ucwa_xml_error (code, subcode, message, then any other scalar member whose key is an
 * XML name, in order), as the docs say the event reason "follows the common UCWA error
 * response structure". Other members of an event are not rendered.
 *
 * The renderers return NULL when the JSON is not of the expected shape (not an
 * object, an event type that is not an XML name, nesting deeper than 32) or a write
 * fails. */
#ifndef UCWA_XML_H
#define UCWA_XML_H

#include <apr_pools.h>
#include <jansson.h>

#define UCWA_XML_NS "http://schemas.microsoft.com/rtc/2012/03/ucwa"

/* Limits of ucwa_xml_input. */
#define UCWA_XML_MAX_INPUT      65536   /* bytes */
#define UCWA_XML_MAX_DEPTH      32      /* element nesting, the root being 1 */
#define UCWA_XML_MAX_PROPERTIES 256     /* property + propertyList elements */

/* res, a resource object, as a <resource> document. */
const char *ucwa_xml_resource(apr_pool_t *p, const json_t *res, apr_size_t *len);

/* pkg, an event package {"_links":{...},"sender":[...]}, as an <events> document. */
const char *ucwa_xml_events(apr_pool_t *p, const json_t *pkg, apr_size_t *len);

/* The error body <reason><code/><subcode/><message/></reason>; subcode and message are
 * left out when NULL. NULL when code is NULL. */
const char *ucwa_xml_error(apr_pool_t *p, const char *code, const char *subcode,
                           const char *message, apr_size_t *len);

/* Parses a client's XML input
 *
 *   <input xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa">
 *     <property name="x">v</property>
 *     <propertyList name="y"><item>a</item><item>b</item></propertyList>
 *   </input>
 *
 * into a flat JSON object owned by p: {"x":"v","y":["a","b"]}, every value a string
 * (the caller converts) or an array of strings, the names as sent (the caller matches
 * them case-insensitively). The root may also be <resource> (what the reference's PUT
 * samples send: a resource read, changed and sent back). The root may be in the UCWA
 * namespace or in none, with or
 * without a prefix; its children in the same two. <link> and <resource> children are
 * ignored (the docs let a client send a resource's links and embedded resources back;
 * they carry no input), as are comments and processing instructions.
 *
 * Refused, NULL with a short fixed reason in *why (never a piece of the input): more
 * than UCWA_XML_MAX_INPUT bytes, bytes that are not UTF-8 (a NUL included: so UTF-16
 * and other encodings never reach libxml2, and an encoding declaration is ignored), a
 * DTD of any kind (the parse stops at <!DOCTYPE, before any declaration is read), an
 * entity reference other than the five predefined ones (character references are
 * fine), nesting deeper than UCWA_XML_MAX_DEPTH, more than UCWA_XML_MAX_PROPERTIES
 * properties, a document that is not well-formed (truncated ones included), another
 * root, any other element or non-blank text under the root, a property without a name,
 * two properties whose names differ only in ASCII case, an element inside a property
 * value or item, anything but <item> elements in a propertyList. The parse never
 * substitutes entities, never loads a DTD or anything over the network and prints
 * nothing. The libxml2 document is freed by a cleanup of p; xmlCleanupParser is never
 * called. Call xmlInitParser() once before threads start (libxml2's own rule). */
json_t *ucwa_xml_input(apr_pool_t *p, const char *xml, apr_size_t len, const char **why);

#endif
