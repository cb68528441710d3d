#!/usr/bin/env node
/*
 * web-push-testing as bench_push.py runs it: the package's own server and PushApiModel,
 * unchanged (same routes, same checks: VAPID signature, aes128gcm decryption), plus a
 * clock. Every POST /notify/<clientHash> is recorded with
 *
 *   recv  when Node's HTTP server emitted the request (its head parsed: the push arrived)
 *   done  when the response was sent (after the JWT check, the decryption and the store)
 *   status the answer (201 = decrypted and stored)
 *
 * in milliseconds since the epoch with sub-millisecond resolution (performance.timeOrigin
 * + performance.now()), so that bench_push.py needs no polling to know when a push came.
 * Extra routes, all POST with a JSON body:
 *
 *   /bench/now                        {now}: this clock, to compare with the caller's
 *   /bench/records {from}             {records: [{hash, recv, done, status}...] from index
 *                                     from, total, connections: TCP connections that
 *                                     carried a push}
 *   /bench/wait {hash?, count, timeout_ms}
 *                                     answers once count records (of hash, or of any) have
 *                                     status 201, or at the timeout: {ok, records of hash or
 *                                     the count}
 *
 *   node wpt_timed.js <web-push-testing package dir> <port>
 *
 * Prints "Server running on port <port>" when it listens (the package's own line).
 */
'use strict';

const path = require('path');
const {performance} = require('perf_hooks');

const pkg = process.argv[2];
const port = JSON.parse(process.argv[3]);
const TestingServer = require(path.join(pkg, 'src', 'server.js'));
const {PushApiModel} = require(path.join(pkg, 'src', 'PushApiModel.js'));

const now = () => performance.timeOrigin + performance.now();
const records = [];
const okByHash = new Map();      // hash -> [records with status 201]
let okTotal = 0;
let connections = 0;             // connections that carried at least one push
let waiters = [];

function settle() {
	waiters = waiters.filter(w => {
		const have = w.hash ? (okByHash.get(w.hash) || []).length : okTotal;
		if (have >= w.count) {
			clearTimeout(w.timer);
			w.reply(true);
			return false;
		}
		return true;
	});
}

class TimedServer extends TestingServer {
	setRequestHandlers() {
		// before express sees the request: the arrival time of the push
		this._server.prependListener('request', req => {
			req.benchRecv = now();
			if (req.url.startsWith('/notify/') && !req.socket.benchPushed) {
				req.socket.benchPushed = true;
				connections++;
			}
		});
		this._app.post('/bench/now', (req, res) => {
			res.status(200).send({now: now()});
		});
		this._app.post('/bench/records', (req, res) => {
			const from = Number(req.body.from) || 0;
			res.status(200).send({records: records.slice(from), total: records.length,
				connections});
		});
		this._app.post('/bench/wait', (req, res) => {
			const hash = req.body.hash || null;
			const count = Number(req.body.count) || 1;
			const w = {hash, count};
			w.reply = ok => {
				const body = {ok, total: okTotal};
				if (hash) {
					body.records = okByHash.get(hash) || [];
				}
				res.status(200).send(body);
			};
			w.timer = setTimeout(() => {
				waiters = waiters.filter(x => x !== w);
				w.reply(false);
			}, Number(req.body.timeout_ms) || 10000);
			waiters.push(w);
			settle();
		});
		super.setRequestHandlers();
	}

	handleNotification(req, res) {
		const hash = req.params.clientHash;
		const recv = req.benchRecv || now();
		res.on('finish', () => {
			const r = {hash, recv, done: now(), status: res.statusCode};
			records.push(r);
			if (res.statusCode === 201) {
				if (!okByHash.has(hash)) {
					okByHash.set(hash, []);
				}
				okByHash.get(hash).push(r);
				okTotal++;
				settle();
			}
		});
		// the package's handler (it uses its module's model, not `this`)
		return TestingServer.prototype.handleNotification(req, res);
	}
}

const server = new TimedServer(new PushApiModel(), port);
server.startServer();
