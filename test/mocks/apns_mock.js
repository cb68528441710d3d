#!/usr/bin/env node
// A mock of the APNs provider API (HTTP/2 over TLS, token authentication) for the
// integration tests. Node's built-in modules only.
//
//   node apns_mock.js --cert CERT.pem --key KEY.pem --jwt-key PROVIDER_PUBLIC.pem
//                     [--port 0] [--host 127.0.0.1] [--key-id KID] [--team-id TEAM]
//   (or APNS_MOCK_CERT, APNS_MOCK_KEY, APNS_MOCK_JWT_KEY, APNS_MOCK_PORT in the environment)
//
// Prints "listening <port>" on stdout once it accepts connections (port 0: a free one).
//
// POST /3/device/<hex token>, over HTTP/2 only (HTTP/1.1 gets 505 HTTP2Required), checks
// as APNs does, in this order:
//   authorization: bearer <ES256 JWT> verified with the --jwt-key public key, kid and iss
//     matching --key-id / --team-id when given: 403 MissingProviderToken,
//     InvalidProviderToken; iat older than an hour: 403 ExpiredProviderToken; a token
//     other than the current one less than 20 minutes after the current one was first
//     used: 429 TooManyProviderTokenUpdates;
//   apns-topic present: 400 MissingTopic; the device token hex: 400 BadDeviceToken;
//   apns-push-type alert|background|voip|...: 400 InvalidPushType; apns-priority 5|10
//   (|1): 400 BadPriority; apns-collapse-id <= 64 bytes: 400 BadCollapseId;
//   apns-expiration digits: 400 BadExpirationDate; apns-id a UUID: 400 BadMessageId;
//   payload <= 4096 bytes: 413 PayloadTooLarge; a JSON object with an "aps" object:
//   400 PayloadEmpty / BadPayload (not an APNs reason, but a clear one);
//   then an injected failure for the token, if any; else 200 with apns-id, recorded.
//
// Control API (same server, HTTP/1.1 or HTTP/2, JSON):
//   GET  /mock/pushes   accepted pushes: [{token, headers, payload, apns_id, http_version, time}]
//   POST /mock/fail     {"token":..., "status":410|429|500|..., "reason":..., "retry_after":N,
//                        "times":N (default 1)}: the next sends to token fail so
//   POST /mock/clock    {"advance": seconds}: moves the mock's clock (for the token rules)
//   POST /mock/reset    forgets pushes, failures, the current token, and the clock offset
//   GET  /mock/state    {"now":..., "token_since":...}
'use strict';

const http2 = require('node:http2');
const crypto = require('node:crypto');
const fs = require('node:fs');

function parseArgs(argv) {
  const opt = {
    port: process.env.APNS_MOCK_PORT || '0',
    host: '127.0.0.1',
    cert: process.env.APNS_MOCK_CERT,
    key: process.env.APNS_MOCK_KEY,
    jwtKey: process.env.APNS_MOCK_JWT_KEY,
    keyId: null,
    teamId: null,
  };
  const names = {
    '--port': 'port', '--host': 'host', '--cert': 'cert', '--key': 'key',
    '--jwt-key': 'jwtKey', '--key-id': 'keyId', '--team-id': 'teamId',
  };
  for (let i = 2; i < argv.length; i += 2) {
    const name = names[argv[i]];
    if (!name || i + 1 >= argv.length) {
      console.error(`usage: apns_mock.js --cert F --key F --jwt-key F [--port N] ...: bad ${argv[i]}`);
      process.exit(2);
    }
    opt[name] = argv[i + 1];
  }
  if (!opt.cert || !opt.key || !opt.jwtKey) {
    console.error('apns_mock.js: --cert, --key and --jwt-key are required');
    process.exit(2);
  }
  return opt;
}

const opt = parseArgs(process.argv);
const providerKey = crypto.createPublicKey(fs.readFileSync(opt.jwtKey));

const TOKEN_MAX_AGE = 3600;         // seconds: older provider tokens are expired
const TOKEN_MIN_INTERVAL = 1200;    // seconds between two token updates
const PAYLOAD_MAX = 4096;
const BODY_LIMIT = 65536;           // what the mock reads of any request
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const PUSH_TYPES = ['alert', 'background', 'voip', 'complication', 'fileprovider', 'mdm',
  'liveactivity', 'location', 'pushtotalk'];

const state = { offset: 0, pushes: [], fails: new Map(), token: null, tokenSince: null };

function reset() {
  state.offset = 0;
  state.pushes = [];
  state.fails = new Map();
  state.token = null;
  state.tokenSince = null;
}

function now() {
  return Date.now() / 1000 + state.offset;
}

function send(res, status, obj, headers = {}) {
  const body = obj === undefined ? '' : JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
}

function reject(res, status, reason, headers = {}) {
  const body = { reason };
  if (status === 410) {
    body.timestamp = Math.floor(now() * 1000);
  }
  send(res, status, body, headers);
}

function b64urlJson(part) {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
}

// null when the provider token is good, else [status, reason]
function checkToken(auth) {
  if (!auth || !/^bearer /i.test(auth)) {
    return [403, 'MissingProviderToken'];
  }
  const jwt = auth.slice(7).trim();
  const parts = jwt.split('.');
  if (parts.length !== 3) {
    return [403, 'InvalidProviderToken'];
  }
  const header = b64urlJson(parts[0]);
  const claims = b64urlJson(parts[1]);
  const sig = Buffer.from(parts[2], 'base64url');
  if (!header || !claims || header.alg !== 'ES256' || sig.length !== 64
      || (opt.keyId && header.kid !== opt.keyId) || (opt.teamId && claims.iss !== opt.teamId)
      || typeof claims.iat !== 'number') {
    return [403, 'InvalidProviderToken'];
  }
  const ok = crypto.verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`),
    { key: providerKey, dsaEncoding: 'ieee-p1363' }, sig);
  if (!ok) {
    return [403, 'InvalidProviderToken'];
  }
  if (now() - claims.iat > TOKEN_MAX_AGE) {
    return [403, 'ExpiredProviderToken'];
  }
  if (jwt !== state.token) {
    if (state.token !== null && now() - state.tokenSince < TOKEN_MIN_INTERVAL) {
      return [429, 'TooManyProviderTokenUpdates'];
    }
    state.token = jwt;
    state.tokenSince = now();
  }
  return null;
}

const DEFAULT_REASON = {
  400: 'BadRequest', 403: 'Forbidden', 404: 'BadPath', 410: 'Unregistered',
  413: 'PayloadTooLarge', 429: 'TooManyRequests', 500: 'InternalServerError',
  503: 'ServiceUnavailable',
};

function handlePush(req, res, token, body) {
  if (req.httpVersion !== '2.0') {
    return reject(res, 505, 'HTTP2Required');
  }
  const h = req.headers;
  const apnsId = h['apns-id'] || crypto.randomUUID();
  const bad = checkToken(h.authorization);
  if (bad) {
    return reject(res, bad[0], bad[1], { 'apns-id': apnsId });
  }
  if (!h['apns-topic']) {
    return reject(res, 400, 'MissingTopic', { 'apns-id': apnsId });
  }
  if (!/^[0-9a-fA-F]+$/.test(token) || token.length % 2) {
    return reject(res, 400, 'BadDeviceToken', { 'apns-id': apnsId });
  }
  if (h['apns-push-type'] !== undefined && !PUSH_TYPES.includes(h['apns-push-type'])) {
    return reject(res, 400, 'InvalidPushType', { 'apns-id': apnsId });
  }
  if (h['apns-priority'] !== undefined && !['1', '5', '10'].includes(h['apns-priority'])) {
    return reject(res, 400, 'BadPriority', { 'apns-id': apnsId });
  }
  if (h['apns-collapse-id'] !== undefined && Buffer.byteLength(h['apns-collapse-id']) > 64) {
    return reject(res, 400, 'BadCollapseId', { 'apns-id': apnsId });
  }
  if (h['apns-expiration'] !== undefined && !/^\d+$/.test(h['apns-expiration'])) {
    return reject(res, 400, 'BadExpirationDate', { 'apns-id': apnsId });
  }
  if (h['apns-id'] !== undefined && !UUID.test(h['apns-id'])) {
    return reject(res, 400, 'BadMessageId');
  }
  if (body.length > PAYLOAD_MAX) {
    return reject(res, 413, 'PayloadTooLarge', { 'apns-id': apnsId });
  }
  if (body.length === 0) {
    return reject(res, 400, 'PayloadEmpty', { 'apns-id': apnsId });
  }
  let payload;
  try {
    payload = JSON.parse(body.toString('utf8'));
  } catch {
    payload = null;
  }
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)
      || typeof payload.aps !== 'object' || payload.aps === null) {
    return reject(res, 400, 'BadPayload', { 'apns-id': apnsId });
  }
  const fail = state.fails.get(token.toLowerCase());
  if (fail) {
    if (--fail.times <= 0) {
      state.fails.delete(token.toLowerCase());
    }
    const extra = { 'apns-id': apnsId };
    if (fail.retry_after !== undefined && fail.retry_after !== null) {
      extra['retry-after'] = String(fail.retry_after);
    }
    return reject(res, fail.status, fail.reason || DEFAULT_REASON[fail.status] || 'Error', extra);
  }
  const headers = {};
  for (const [k, v] of Object.entries(h)) {
    if (!k.startsWith(':')) {
      headers[k] = v;
    }
  }
  state.pushes.push({
    token, headers, payload, apns_id: apnsId, http_version: req.httpVersion, time: now(),
  });
  res.writeHead(200, { 'apns-id': apnsId, 'apns-unique-id': crypto.randomUUID() });
  res.end();
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
  if (path === '/mock/pushes' && req.method === 'GET') {
    return send(res, 200, state.pushes);
  }
  if (path === '/mock/state' && req.method === 'GET') {
    return send(res, 200, { now: now(), token_since: state.tokenSince, offset: state.offset });
  }
  if (path === '/mock/fail' && req.method === 'POST') {
    if (typeof args.token !== 'string' || !Number.isInteger(args.status)) {
      return send(res, 400, { error: 'token (string) and status (integer) are required' });
    }
    state.fails.set(args.token.toLowerCase(), {
      status: args.status, reason: args.reason, retry_after: args.retry_after,
      times: Number.isInteger(args.times) && args.times > 0 ? args.times : 1,
    });
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
      return reject(res, 413, 'PayloadTooLarge');
    }
    if (path.startsWith('/mock/')) {
      return handleControl(req, res, path, body);
    }
    const m = /^\/3\/device\/([^/]*)$/.exec(path);
    if (!m) {
      return reject(res, 404, 'BadPath');
    }
    if (req.method !== 'POST') {
      return reject(res, 405, 'MethodNotAllowed');
    }
    return handlePush(req, res, m[1], body);
  });
}

const server = http2.createSecureServer({
  key: fs.readFileSync(opt.key),
  cert: fs.readFileSync(opt.cert),
  allowHTTP1: true,           // for the control API; pushes are refused over HTTP/1.1
}, handler);
server.on('error', (err) => {
  console.error(`apns_mock.js: ${err.message}`);
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
