#!/usr/bin/env python3
"""Generates mcx_wsdl.c, the WSDL 1.1 of MCX version 1 (docs/mcx-protocol.md), from one
table of operations, so that the schema, the messages, the port type and the binding
always list the same operations. Run it after editing the table:

    python3 mod_mcx/mcx_wsdl.py
"""
from pathlib import Path

S, I = "xs:string", "xs:unsignedInt"
# (operation, request fields, response fields); a field is (name, type, min, max).
# Every operation but SignIn also takes SessionId first. None: the notifications type.
OPS = [
    ("SignIn", [("SessionKind", "tns:SessionKind", 0, 1), ("DeviceId", S, 1, 1),
                ("UserAgent", S, 0, 1), ("Culture", S, 0, 1)],
               [("SessionId", S, 1, 1), ("SessionKind", "tns:SessionKind", 1, 1),
                ("Lifetime", I, 1, 1), ("Uri", S, 1, 1), ("Name", S, 1, 1),
                ("Sequence", I, 1, 1)]),
    ("SignOut", [], []),
    ("KeepAlive", [], [("Lifetime", I, 1, 1)]),
    ("GetPresence", [], [("Availability", S, 1, 1), ("Activity", S, 1, 1), ("Note", S, 1, 1)]),
    ("PublishPresence", [("Availability", S, 0, 1), ("Note", S, 0, 1)], []),
    ("GetContacts", [], [("Group", "tns:Group", 0, "unbounded")]),
    ("SubscribePresence", [("Uri", S, 1, 100)], [("Presence", "tns:Presence", 0, "unbounded")]),
    ("StartConversation", [("To", S, 1, 1), ("Subject", S, 0, 1), ("Message", S, 0, 1)],
                          [("ConversationId", S, 1, 1), ("InvitationId", S, 1, 1)]),
    ("AcceptInvitation", [("InvitationId", S, 1, 1)], [("ConversationId", S, 0, 1)]),
    ("DeclineInvitation", [("InvitationId", S, 1, 1)], []),
    ("SendMessage", [("ConversationId", S, 1, 1), ("Text", S, 1, 1)], [("Number", I, 1, 1)]),
    ("SetTyping", [("ConversationId", S, 1, 1)], []),
    ("EndConversation", [("ConversationId", S, 1, 1)], []),
    ("RegisterPush", [("Provider", S, 1, 1), ("Endpoint", S, 0, 1), ("P256dh", S, 0, 1),
                      ("Auth", S, 0, 1), ("Token", S, 0, 1), ("Language", S, 0, 1)],
                     [("RegistrationId", S, 1, 1)]),
    ("UnregisterPush", [("RegistrationId", S, 1, 1)], []),
    ("GetNotifications", [("Sequence", I, 0, 1), ("Timeout", I, 0, 1)], None),
]

COMMON = """<xs:simpleType name="SessionKind"><xs:restriction base="xs:string"><xs:enumeration value="AlwaysConnected"/><xs:enumeration value="PushCapable"/></xs:restriction></xs:simpleType>
<xs:complexType name="Contact"><xs:attribute name="Uri" type="xs:string"/><xs:attribute name="Name" type="xs:string"/><xs:attribute name="Availability" type="xs:string"/><xs:attribute name="Note" type="xs:string"/></xs:complexType>
<xs:complexType name="Group"><xs:sequence><xs:element name="Contact" type="tns:Contact" minOccurs="0" maxOccurs="unbounded"/></xs:sequence><xs:attribute name="Id" type="xs:string"/><xs:attribute name="Name" type="xs:string"/></xs:complexType>
<xs:complexType name="Presence"><xs:attribute name="Uri" type="xs:string"/><xs:attribute name="Availability" type="xs:string"/><xs:attribute name="Note" type="xs:string"/></xs:complexType>
<xs:complexType name="Text"><xs:simpleContent><xs:extension base="xs:string"><xs:attribute name="InvitationId" type="xs:string"/><xs:attribute name="ConversationId" type="xs:string"/><xs:attribute name="From" type="xs:string"/><xs:attribute name="Name" type="xs:string"/><xs:attribute name="Subject" type="xs:string"/><xs:attribute name="Number" type="xs:unsignedInt"/><xs:attribute name="Format" type="xs:string"/></xs:extension></xs:simpleContent></xs:complexType>
<xs:complexType name="Event"><xs:attribute name="InvitationId" type="xs:string"/><xs:attribute name="ConversationId" type="xs:string"/><xs:attribute name="From" type="xs:string"/><xs:attribute name="Result" type="xs:string"/><xs:attribute name="Availability" type="xs:string"/></xs:complexType>
<xs:complexType name="Notifications"><xs:choice minOccurs="0" maxOccurs="unbounded"><xs:element name="Presence" type="tns:Presence"/><xs:element name="MyPresence" type="tns:Event"/><xs:element name="Invitation" type="tns:Text"/><xs:element name="InvitationResult" type="tns:Event"/><xs:element name="Message" type="tns:Text"/><xs:element name="Typing" type="tns:Event"/><xs:element name="ConversationEnded" type="tns:Event"/><xs:element name="PolicyChanged" type="tns:Event"/></xs:choice><xs:attribute name="Sequence" type="xs:unsignedInt" use="required"/><xs:attribute name="Next" type="xs:unsignedInt" use="required"/><xs:attribute name="Resync" type="xs:boolean"/><xs:attribute name="Resume" type="xs:boolean"/></xs:complexType>
<xs:element name="McxError"><xs:complexType><xs:sequence><xs:element name="Code" type="xs:string"/><xs:element name="Status" type="xs:unsignedInt" minOccurs="0"/></xs:sequence></xs:complexType></xs:element>"""


def sequence(fields, session):
    out = ['<xs:element name="SessionId" type="xs:string"/>'] if session else []
    for name, typ, lo, hi in fields:
        out.append(f'<xs:element name="{name}" type="{typ}"'
                   + ("" if lo == 1 else f' minOccurs="{lo}"')
                   + ("" if hi == 1 else f' maxOccurs="{hi}"') + "/>")
    return "<xs:sequence>" + "".join(out) + "</xs:sequence>" if out else "<xs:sequence/>"


def wsdl():
    types, msgs, port, bind = [], [], [], []
    for name, req, resp in OPS:
        types.append(f'<xs:element name="{name}"><xs:complexType>'
                     f'{sequence(req, name != "SignIn")}</xs:complexType></xs:element>')
        if resp is None:
            types.append(f'<xs:element name="{name}Response" type="tns:Notifications"/>')
        else:
            types.append(f'<xs:element name="{name}Response"><xs:complexType>'
                         f'{sequence(resp, False)}</xs:complexType></xs:element>')
        msgs.append(f'<wsdl:message name="{name}Request"><wsdl:part name="parameters" '
                    f'element="tns:{name}"/></wsdl:message><wsdl:message name="{name}Response">'
                    f'<wsdl:part name="parameters" element="tns:{name}Response"/></wsdl:message>')
        port.append(f'<wsdl:operation name="{name}"><wsdl:input message="tns:{name}Request"/>'
                    f'<wsdl:output message="tns:{name}Response"/><wsdl:fault name="McxFault" '
                    f'message="tns:McxFault"/></wsdl:operation>')
        bind.append(f'<wsdl:operation name="{name}"><soap:operation soapAction='
                    f'"urn:mobility-httpd:mcx:1/{name}" style="document"/><wsdl:input>'
                    f'<soap:body use="literal"/></wsdl:input><wsdl:output><soap:body '
                    f'use="literal"/></wsdl:output><wsdl:fault name="McxFault"><soap:fault '
                    f'name="McxFault" use="literal"/></wsdl:fault></wsdl:operation>')
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<wsdl:definitions name="McxService" targetNamespace="urn:mobility-httpd:mcx:1" '
            'xmlns:tns="urn:mobility-httpd:mcx:1" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" '
            'xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" '
            'xmlns:xs="http://www.w3.org/2001/XMLSchema">\n'
            '<wsdl:documentation>MCX protocol version 1 of mobility-httpd (our own design, '
            'docs/mcx-protocol.md), not Microsoft\'s MCX wire format.</wsdl:documentation>\n'
            '<wsdl:types><xs:schema targetNamespace="urn:mobility-httpd:mcx:1" '
            'elementFormDefault="qualified">\n' + COMMON + "\n" + "\n".join(types)
            + "\n</xs:schema></wsdl:types>\n" + "\n".join(msgs)
            + '\n<wsdl:message name="McxFault"><wsdl:part name="detail" element="tns:McxError"/>'
            '</wsdl:message>\n<wsdl:portType name="McxService">' + "".join(port)
            + '</wsdl:portType>\n<wsdl:binding name="McxServiceSoap" type="tns:McxService">'
            '<soap:binding transport="http://schemas.xmlsoap.org/soap/http" style="document"/>'
            + "".join(bind) + '</wsdl:binding>\n<wsdl:service name="McxService"><wsdl:port '
            'name="McxServiceSoap" binding="tns:McxServiceSoap"><soap:address '
            'location="@ADDRESS@"/></wsdl:port></wsdl:service>\n</wsdl:definitions>\n')


def c_string(s):
    out = []
    for line in s.splitlines(keepends=True):
        while line:
            chunk, line = line[:90], line[90:]
            out.append('    "' + chunk.replace("\\", "\\\\").replace('"', '\\"')
                       .replace("\n", "\\n") + '"')
    return "\n".join(out)


def main():
    head, tail = wsdl().split("@ADDRESS@")
    c = ("/* GENERATED by mod_mcx/mcx_wsdl.py from its table of operations: edit that, then\n"
         " * run python3 mod_mcx/mcx_wsdl.py. The WSDL 1.1 of MCX version 1. */\n"
         "#include <string.h>\n#include <httpd.h>\n#include <apr_strings.h>\n\n"
         '#include "mcx_wsdl.h"\n\n'
         f"static const char head[] =\n{c_string(head)};\n\n"
         f"static const char tail[] =\n{c_string(tail)};\n\n"
         "const char *mcx_wsdl(apr_pool_t *p, const char *address, apr_size_t *len)\n{\n"
         "    char *out = apr_pstrcat(p, head, ap_escape_html(p, address), tail, NULL);\n\n"
         "    *len = strlen(out);\n    return out;\n}\n")
    (Path(__file__).parent / "mcx_wsdl.c").write_text(c)


if __name__ == "__main__":
    main()
