#!/usr/bin/env node
// A mock of Firebase Cloud Messaging's HTTP v1 API and of Google's OAuth token endpoint
// for a service account, for the integration tests. Node's built-in modules only.
//
//   node fcm_mock.js --public-key SA_PUBLIC.pem --client-email EMAIL --project ID
//                    [--port 0] [--host 127.0.0.1] [--cert CERT.pem --key KEY.pem]
//   (or FCM_MOCK_CERT, FCM_MOCK_KEY, FCM_MOCK_PORT in the environment)
//
// HTTP/1.1 over TLS when a certificate is given, plain HTTP otherwise. Prints
// "listening <port>" on stdout once it accepts connections (port 0: a free one).
//
// POST /token (the service account's token_uri must point here): form
//   grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<RS256 JWT>; the JWT
//   is verified with --public-key: iss = --client-email, scope holds
//   https://www.googleapis.com/auth/firebase.messaging, aud = this endpoint's URL
//   (scheme://Host/token), iat not in the future, exp after now and at most an hour after
//   iat. 400 {"error":"invalid_grant"|"unsupported_grant_type"|"invalid_request",
//   "error_description":...}, or 200 {"access_token","expires_in":3600,"token_type":"Bearer"}.
// POST /v1/projects/<id>/messages:send: Authorization: Bearer <a token issued here, not
//   expired, not revoked> (else 401 UNAUTHENTICATED); <id> = --project (else 403
//   PERMISSION_DENIED); a JSON body {"message":{"token":...,"data":{string values},
//   "android":{"collapse_key","priority":"high"|"normal","ttl":"<N>s",...}}} with no
//   unknown members and data keys and values of at most 4096 bytes together (else 400
//   INVALID_ARGUMENT); then an injected failure for the token, if any; else 200
//   {"name":"projects/<id>/messages/<n>"}, recorded.
//
// Control API (JSON):
//   GET  /mock/messages  accepted messages: [{token, message, headers, name, time}]
//   GET  /mock/tokens    {"issued": N, "valid": N}
//   POST /mock/fail      {"token":..., "status":404|429|500|503|401|400, "retry_after":N,
//                         "times":N (default 1), "delay":S}: 404 answers UNREGISTERED, 401
//                         also revokes every access token (the client must fetch a new
//                         one); with delay, the failure is answered S seconds later (a
//                         service that hangs), or never when the client went away
//   POST /mock/revoke    revokes every access token issued so far
//   POST /mock/clock     {"advance": seconds}
//   POST /mock/reset     forgets messages, failures, tokens and the clock offset
'use strict';

const http = require('node:http');
const https = require('node:https');
const crypto = require('node:crypto');
const fs = require('node:fs');

function parseArgs(argv) {
  const opt = {
    port: process.env.FCM_MOCK_PORT || '0',
    host: '127.0.0.1',
    cert: process.env.FCM_MOCK_CERT,
    key: process.env.FCM_MOCK_KEY,
    publicKey: null,
    clientEmail: null,
    project: null,
  };
  const names = {
    '--port': 'port', '--host': 'host', '--cert': 'cert', '--key': 'key',
    '--public-key': 'publicKey', '--client-email': 'clientEmail', '--project': 'project',
  };
  for (let i = 2; i < argv.length; i += 2) {
    const name = names[argv[i]];
    if (!name || i + 1 >= argv.length) {
      console.error(`usage: fcm_mock.js --public-key F --client-email E --project ID ...: bad ${argv[i]}`);
      process.exit(2);
    }
    opt[name] = argv[i + 1];
  }
  if (!opt.publicKey || !opt.clientEmail || !opt.project) {
    console.error('fcm_mock.js: --public-key, --client-email and --project are required');
    process.exit(2);
  }
  return opt;
}

const opt = parseArgs(process.argv);
const accountKey = crypto.createPublicKey(fs.readFileSync(opt.publicKey));
const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_LIFETIME = 3600;
const DATA_MAX = 4096;
const BODY_LIMIT = 65536;
const MESSAGE_KEYS = ['name', 'token', 'topic', 'condition', 'data', 'notification', 'android',
  'webpush', 'apns', 'fcm_options'];
const ANDROID_KEYS = ['collapse_key', 'priority', 'ttl', 'restricted_package_name', 'data',
  'notification', 'fcm_options', 'direct_boot_ok'];
const RESERVED = /^(from|notification|message_type|google\..*|gcm\..*)$/;

const state = { offset: 0, messages: [], fails: new Map(), tokens: new Map(), issued: 0 };

function reset() {
  state.offset = 0;
  state.messages = [];
  state.fails = new Map();
  state.tokens = new Map();
  state.issued = 0;
}

function now() {
  return Date.now() / 1000 + state.offset;
}

function send(res, status, obj, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
  res.end(obj === undefined ? '' : JSON.stringify(obj));
}

const STATUS_NAME = {
  400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE',
};
const ERROR_CODE = {
  400: 'INVALID_ARGUMENT', 403: 'SENDER_ID_MISMATCH', 404: 'UNREGISTERED',
  429: 'QUOTA_EXCEEDED', 500: 'INTERNAL', 503: 'UNAVAILABLE',
};

// Google's error shape, with the FCM error code in details when there is one
function googleError(res, code, message, headers = {}, errorCode = ERROR_CODE[code]) {
  const error = { code, message, status: STATUS_NAME[code] || 'UNKNOWN' };
  if (errorCode && code !== 401) {
    error.details = [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }];
  }
  send(res, code, { error }, headers);
}

function b64urlJson(part) {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
}

function handleToken(req, res, body) {
  const form = new URLSearchParams(body.toString('utf8'));
  const grant = (msg) => send(res, 400, { error: 'invalid_grant', error_description: msg });
  if (!/^application\/x-www-form-urlencoded/.test(req.headers['content-type'] || '')) {
    return send(res, 400, { error: 'invalid_request', error_description: 'not a form' });
  }
  if (form.get('grant_type') !== GRANT) {
    return send(res, 400, { error: 'unsupported_grant_type',
      error_description: `grant_type must be ${GRANT}` });
  }
  const parts = (form.get('assertion') || '').split('.');
  if (parts.length !== 3) {
    return grant('assertion is not a JWT');
  }
  const header = b64urlJson(parts[0]);
  const claims = b64urlJson(parts[1]);
  if (!header || !claims || header.alg !== 'RS256') {
    return grant('bad JWT header or claims');
  }
  if (!crypto.verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), accountKey,
    Buffer.from(parts[2], 'base64url'))) {
    return grant('Invalid JWT Signature.');
  }
  const scheme = req.socket.encrypted ? 'https' : 'http';
  const aud = `${scheme}://${req.headers.host}/token`;
  const t = now();
  if (claims.iss !== opt.clientEmail) {
    return grant('iss is not the service account');
  }
  if (typeof claims.scope !== 'string' || !claims.scope.split(' ').includes(SCOPE)) {
    return grant('scope does not include firebase.messaging');
  }
  if (claims.aud !== aud) {
    return grant(`aud must be ${aud}`);
  }
  if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number'
      || claims.iat > t + 60 || claims.exp <= t || claims.exp - claims.iat > 3600) {
    return grant('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
  }
  const token = `ya29.mock-${crypto.randomBytes(16).toString('hex')}`;
  state.tokens.set(token, { expires: t + TOKEN_LIFETIME, revoked: false });
  state.issued += 1;
  return send(res, 200, { access_token: token, expires_in: TOKEN_LIFETIME, token_type: 'Bearer' });
}

function bytes(s) {
  return Buffer.byteLength(s, 'utf8');
}

// null when the body is a well-formed send request, else the reason
function checkMessage(body) {
  let doc;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return ['the body is not JSON'];
  }
  if (!doc || typeof doc !== 'object' || Object.keys(doc).some((k) => k !== 'message' && k !== 'validate_only')) {
    return ['unknown top-level member'];
  }
  const m = doc.message;
  if (!m || typeof m !== 'object' || Array.isArray(m)) {
    return ['no message object'];
  }
  for (const k of Object.keys(m)) {
    if (!MESSAGE_KEYS.includes(k)) {
      return [`Invalid JSON payload received. Unknown name "${k}" at 'message'`];
    }
  }
  if (typeof m.token !== 'string' || m.token.length === 0) {
    return ['message.token is required here'];
  }
  let size = 0;
  if (m.data !== undefined) {
    if (typeof m.data !== 'object' || m.data === null || Array.isArray(m.data)) {
      return ['message.data is not an object'];
    }
    for (const [k, v] of Object.entries(m.data)) {
      if (typeof v !== 'string') {
        return [`Invalid value at 'message.data[${k}]': not a string`];
      }
      if (RESERVED.test(k)) {
        return [`Invalid data payload key: ${k}`];
      }
      size += bytes(k) + bytes(v);
    }
  }
  if (size > DATA_MAX) {
    return ['Message is too big'];
  }
  const a = m.android;
  if (a !== undefined) {
    if (typeof a !== 'object' || a === null || Array.isArray(a)) {
      return ['message.android is not an object'];
    }
    for (const k of Object.keys(a)) {
      if (!ANDROID_KEYS.includes(k)) {
        return [`Invalid JSON payload received. Unknown name "${k}" at 'message.android'`];
      }
    }
    if (a.priority !== undefined && !/^(high|normal)$/i.test(a.priority)) {
      return [`Invalid value at 'message.android.priority': ${a.priority}`];
    }
    if (a.ttl !== undefined && !/^\d+(\.\d{1,9})?s$/.test(a.ttl)) {
      return [`Invalid value at 'message.android.ttl': ${a.ttl}`];
    }
    if (a.collapse_key !== undefined && typeof a.collapse_key !== 'string') {
      return ['message.android.collapse_key is not a string'];
    }
  }
  return [null, m];
}

function handleSend(req, res, project, body) {
  const auth = req.headers.authorization || '';
  const m = /^Bearer (\S+)$/.exec(auth);
  const tok = m && state.tokens.get(m[1]);
  if (!tok || tok.revoked || tok.expires <= now()) {
    return googleError(res, 401, 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.');
  }
  if (project !== opt.project) {
    return googleError(res, 403, `Permission denied on project ${project}`);
  }
  const [why, msg] = checkMessage(body);
  if (why) {
    return googleError(res, 400, why);
  }
  const fail = state.fails.get(msg.token);
  if (fail) {
    if (--fail.times <= 0) {
      state.fails.delete(msg.token);
    }
    const extra = {};
    if (fail.retry_after !== undefined && fail.retry_after !== null) {
      extra['retry-after'] = String(fail.retry_after);
    }
    if (fail.status === 401) {
      for (const t of state.tokens.values()) {
        t.revoked = true;
      }
    }
    const text = {
      404: 'Requested entity was not found.', 429: 'Quota exceeded.',
      500: 'Internal error encountered.', 503: 'The service is currently unavailable.',
    }[fail.status] || 'Injected failure.';
    if (fail.delay) {
      setTimeout(() => {
        if (!res.destroyed && !res.writableEnded) {
          googleError(res, fail.status, text, extra);
        }
      }, fail.delay * 1000);
      return undefined;
    }
    return googleError(res, fail.status, text, extra);
  }
  const name = `projects/${project}/messages/${state.messages.length + 1}`;
  const headers = { ...req.headers };
  state.messages.push({ token: msg.token, message: msg, headers, name, time: now() });
  return send(res, 200, { name });
}

function handleControl(req, res, path, body) {
  let args = {};
  if (req.method === 'POST' && body.length) {
    try {
      args = JSON.parse(body.toString('utf8'));
    } catch {
      return send(res, 400, { error: 'not JSON' });
    }
  }
  if (path === '/mock/messages' && req.method === 'GET') {
    return send(res, 200, state.messages);
  }
  if (path === '/mock/tokens' && req.method === 'GET') {
    const t = now();
    const valid = [...state.tokens.values()].filter((x) => !x.revoked && x.expires > t).length;
    return send(res, 200, { issued: state.issued, valid });
  }
  if (path === '/mock/fail' && req.method === 'POST') {
    if (typeof args.token !== 'string' || !Number.isInteger(args.status)) {
      return send(res, 400, { error: 'token (string) and status (integer) are required' });
    }
    state.fails.set(args.token, {
      status: args.status, retry_after: args.retry_after,
      times: Number.isInteger(args.times) && args.times > 0 ? args.times : 1,
      delay: typeof args.delay === 'number' && args.delay > 0 ? args.delay : 0,
    });
    return send(res, 200, { ok: true });
  }
  if (path === '/mock/revoke' && req.method === 'POST') {
    for (const t of state.tokens.values()) {
      t.revoked = true;
    }
    return send(res, 200, { ok: true });
  }
  if (path === '/mock/clock' && req.method === 'POST') {
    if (typeof args.advance !== 'number') {
      return send(res, 400, { error: 'advance (seconds) is required' });
    }
    state.offset += args.advance;
    return send(res, 200, { now: now() });
  }
  if (path === '/mock/reset' && req.method === 'POST') {
    reset();
    return send(res, 200, { ok: true });
  }
  return send(res, 404, { error: 'no such control endpoint' });
}

function handler(req, res) {
  const chunks = [];
  let size = 0;
  let over = false;
  req.on('data', (c) => {
    size += c.length;
    if (size <= BODY_LIMIT) {
      chunks.push(c);
    } else {
      over = true;
    }
  });
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const path = (req.url || '').split('?')[0];
    if (over) {
      return googleError(res, 400, 'Request payload size exceeds the limit');
    }
    if (path.startsWith('/mock/')) {
      return handleControl(req, res, path, body);
    }
    if (path === '/token' && req.method === 'POST') {
      return handleToken(req, res, body);
    }
    const m = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(path);
    if (m && req.method === 'POST') {
      return handleSend(req, res, decodeURIComponent(m[1]), body);
    }
    return googleError(res, 404, `The requested URL ${path} was not found on this server.`,
      {}, null);
  });
}

const server = opt.cert
  ? https.createServer({ key: fs.readFileSync(opt.key), cert: fs.readFileSync(opt.cert) }, handler)
  : http.createServer(handler);
server.on('error', (err) => {
  console.error(`fcm_mock.js: ${err.message}`);
  process.exit(1);
});
server.listen(Number(opt.port), opt.host, () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close();
    process.exit(0);
  });
}
