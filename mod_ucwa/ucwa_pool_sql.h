/* The pool's tables and functions in its PostgreSQL database (docs/schema.md, "The
 * pool"). Created or replaced by the first Front End that connects, under an advisory
 * lock; every statement is idempotent. The functions keep each of the thread's steps one
 * round trip, and post messages in a fixed order of Front End names, so two
 * transactions never wait for each other's rows in opposite orders. */
#ifndef UCWA_POOL_SQL_H
#define UCWA_POOL_SQL_H

/* The pool's push queue (mod_ucwa/ucwa_push_pool): a job queued in a Front End's store
 * is moved here by that Front End's dispatcher, and every dispatcher of the pool takes
 * due jobs (FOR UPDATE SKIP LOCKED: each goes to one). origin names the store's job
 * (moved once even when the move is retried); (fe, app, sip, endpoint_id, conversation)
 * folds a burst into a job nobody holds yet. A job is held until taken_until by taken_by
 * (takes counts the takes: a late verdict of an earlier holder finds no row), and is due
 * again once that Front End's lease ran out. */
#define UCWA_POOL_PUSH_SCHEMA \
"CREATE TABLE IF NOT EXISTS ucwa_pool_push (\n" \
"  id bigserial PRIMARY KEY, fe text NOT NULL, origin text NOT NULL, app text NOT NULL,\n" \
"  sip text NOT NULL, endpoint_id text NOT NULL, conversation text NOT NULL,\n" \
"  kind int NOT NULL, events int NOT NULL, badge int NOT NULL,\n" \
"  sender text NOT NULL, preview text NOT NULL,\n" \
"  queued timestamptz NOT NULL DEFAULT now(), not_before timestamptz NOT NULL DEFAULT now(),\n" \
"  attempts int NOT NULL DEFAULT 0, takes int NOT NULL DEFAULT 0,\n" \
"  taken_by text, taken_until timestamptz);\n" \
"CREATE UNIQUE INDEX IF NOT EXISTS ucwa_pool_push_origin ON ucwa_pool_push (fe, origin);\n" \
"CREATE INDEX IF NOT EXISTS ucwa_pool_push_due ON ucwa_pool_push (not_before);\n" \
/* a provider credential every Front End uses (the APNs provider token: Apple refuses \
 * a new one within 20 minutes of the last, whichever server signed it) */ \
"CREATE TABLE IF NOT EXISTS ucwa_pool_push_credential (\n" \
"  which int PRIMARY KEY, value text NOT NULL, issued bigint NOT NULL);\n" \
"CREATE OR REPLACE FUNCTION ucwa_pool_push_queue(f text, o text, a text, usr text,\n" \
"    ep text, conv text, k int, ev int, b int, snd text, pre text) RETURNS void AS $$\n" \
"BEGIN\n" \
"  PERFORM 1 FROM ucwa_pool_push WHERE fe = f AND origin = o;\n" \
"  IF FOUND THEN RETURN; END IF;\n" \
"  UPDATE ucwa_pool_push SET kind = greatest(kind, k), events = events + ev, badge = b,\n" \
"      sender = snd, preview = pre, origin = o\n" \
"    WHERE id = (SELECT id FROM ucwa_pool_push WHERE fe = f AND app = a AND sip = usr\n" \
"      AND endpoint_id = ep AND conversation = conv AND taken_by IS NULL ORDER BY id\n" \
"      LIMIT 1 FOR UPDATE SKIP LOCKED);\n" \
"  IF FOUND THEN RETURN; END IF;\n" \
"  INSERT INTO ucwa_pool_push (fe, origin, app, sip, endpoint_id, conversation, kind,\n" \
"      events, badge, sender, preview) VALUES (f, o, a, usr, ep, conv, k, ev, b, snd, pre)\n" \
"    ON CONFLICT (fe, origin) DO NOTHING;\n" \
"END $$ LANGUAGE plpgsql;\n" \
"CREATE OR REPLACE FUNCTION ucwa_pool_push_take(me text, n int, hold float8)\n" \
"    RETURNS SETOF ucwa_pool_push AS $$\n" \
"  UPDATE ucwa_pool_push SET taken_by = me, taken_until = now() + hold * interval '1 s',\n" \
"      takes = takes + 1\n" \
"    WHERE id IN (SELECT p.id FROM ucwa_pool_push p WHERE p.not_before <= now()\n" \
"      AND (p.taken_by IS NULL OR p.taken_until < now() OR NOT EXISTS (SELECT 1 FROM\n" \
"        ucwa_pool_fe f WHERE f.fe = p.taken_by AND f.lease_until > now()))\n" \
"      AND EXISTS (SELECT 1 FROM ucwa_pool_fe f WHERE f.fe = me AND f.lease_until > now())\n" \
"      ORDER BY p.queued, p.id LIMIT n FOR UPDATE SKIP LOCKED)\n" \
"  RETURNING *;\n" \
"$$ LANGUAGE sql;\n"

#define UCWA_POOL_SCHEMA \
"BEGIN;\n" \
"SELECT pg_advisory_xact_lock(7714);\n" \
"CREATE TABLE IF NOT EXISTS ucwa_pool_fe (\n" \
"  fe text PRIMARY KEY,\n" \
"  lease_until timestamptz NOT NULL,\n" \
"  seq bigint NOT NULL DEFAULT 0);\n" \
"CREATE TABLE IF NOT EXISTS ucwa_pool_event (\n" \
"  fe text NOT NULL, seq bigint NOT NULL, body text NOT NULL,\n" \
"  created timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (fe, seq));\n" \
"CREATE TABLE IF NOT EXISTS ucwa_pool_user (\n" \
"  sip text NOT NULL, fe text NOT NULL, available int NOT NULL, changed bigint NOT NULL,\n" \
"  body text NOT NULL, PRIMARY KEY (sip, fe));\n" \
"CREATE TABLE IF NOT EXISTS ucwa_pool_invite (\n" \
"  key_fe text NOT NULL, key_conv text NOT NULL, fe text NOT NULL,\n" \
"  created timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (key_fe, key_conv, fe));\n" \
"CREATE TABLE IF NOT EXISTS ucwa_pool_relay (\n" \
"  id bigserial PRIMARY KEY, target text NOT NULL, body text NOT NULL,\n" \
"  created timestamptz NOT NULL DEFAULT now());\n" \
"CREATE TABLE IF NOT EXISTS ucwa_pool_watch (\n" \
"  sip text NOT NULL, pool text NOT NULL, until timestamptz NOT NULL,\n" \
"  PRIMARY KEY (sip, pool));\n" \
/* a call's session descriptions (up to 64 KiB: more than a message holds), written by \
 * the request that gives one before its message is queued, read by the pool's thread \
 * of each Front End the message reaches; the reaper drops them after 10 minutes (a \
 * message is read within a lease of its sending, or its Front End counts as gone) */ \
"CREATE TABLE IF NOT EXISTS ucwa_pool_sdp (\n" \
"  key text PRIMARY KEY, ctype bytea NOT NULL, body bytea NOT NULL,\n" \
"  created timestamptz NOT NULL DEFAULT now());\n" \
"CREATE TABLE IF NOT EXISTS ucwa_pool_claim (\n" \
"  key_fe text NOT NULL, key_conv text NOT NULL, fe text NOT NULL, verdict text NOT NULL,\n" \
"  created timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (key_fe, key_conv));\n" \
/* an application asked for by the Front End a client was moved to (asker), which does \
 * not know its id (mod_ucwa/ucwa_pool_move): each live Front End but the asker (askees: \
 * those whose lease was renewed in the last half of its length, fresh seconds: one that \
 * missed heartbeats is not waited for; the SIP sides, "~sip:FE", hold no applications) \
 * either hands it over (data: the application as bytes, written only while nobody else \
 * did) or says it has none (answered). The asker's DELETE ... RETURNING takes the bytes; \
 * a holder whose UPDATE finds the row gone keeps it */ \
"CREATE TABLE IF NOT EXISTS ucwa_pool_move (\n" \
"  key text PRIMARY KEY, asker text NOT NULL, app text NOT NULL, sip text NOT NULL,\n" \
"  ring_len int NOT NULL, event_size int NOT NULL, askees int NOT NULL,\n" \
"  answered text[] NOT NULL DEFAULT '{}', data bytea,\n" \
"  asked timestamptz NOT NULL DEFAULT now());\n" \
"CREATE OR REPLACE FUNCTION ucwa_pool_move_ask(k text, me text, a text, usr text,\n" \
"    rl int, es int, fresh float8) RETURNS int AS $$\n" \
"DECLARE n int;\n" \
"BEGIN\n" \
"  SELECT count(*) INTO n FROM ucwa_pool_fe WHERE fe <> me AND fe NOT LIKE '~%'\n" \
"    AND lease_until > now() + fresh * interval '1 s';\n" \
"  IF n = 0 THEN RETURN 0; END IF;\n" \
"  INSERT INTO ucwa_pool_move (key, asker, app, sip, ring_len, event_size, askees)\n" \
"    VALUES (k, me, a, usr, rl, es, n);\n" \
"  PERFORM pg_notify('ucwa_pool', '@move');\n" \
"  RETURN n;\n" \
"END $$ LANGUAGE plpgsql;\n" \
/* one message to one Front End: the next number of its sequence (the row lock orders \
 * the writers to it: a reader never sees a later number before an earlier one); to a \
 * Front End of another pool ("fe@pool", "@pool"): the relay table, which a Front End \
 * of this pool drains over HTTPS (mod_ucwa/ucwa_pool_relay) */ \
"CREATE OR REPLACE FUNCTION ucwa_pool_post(target text, msg text) RETURNS void AS $$\n" \
"DECLARE n bigint;\n" \
"BEGIN\n" \
"  IF position('@' in target) > 0 THEN\n" \
"    INSERT INTO ucwa_pool_relay (target, body) VALUES (target, msg);\n" \
"    PERFORM pg_notify('ucwa_pool', '@relay');\n" \
"    RETURN;\n" \
"  END IF;\n" \
"  UPDATE ucwa_pool_fe SET seq = seq + 1 WHERE fe = target RETURNING seq INTO n;\n" \
"  IF n IS NULL THEN RETURN; END IF;\n" \
"  INSERT INTO ucwa_pool_event (fe, seq, body) VALUES (target, n, msg);\n" \
"  PERFORM pg_notify('ucwa_pool', target);\n" \
"END $$ LANGUAGE plpgsql;\n" \
/* a user's presence on Front End me, told to every other live Front End, and to the \
 * pools that watch him (ucwa_pool_relay: they asked for his presence lately) */ \
"CREATE OR REPLACE FUNCTION ucwa_pool_presence(me text, usr text, avail int, chg bigint,\n" \
"    msg text) RETURNS void AS $$\n" \
"DECLARE f text;\n" \
"BEGIN\n" \
"  IF avail > 0 THEN\n" \
"    INSERT INTO ucwa_pool_user (sip, fe, available, changed, body)\n" \
"      VALUES (usr, me, avail, chg, msg) ON CONFLICT (sip, fe) DO UPDATE\n" \
"      SET available = EXCLUDED.available, changed = EXCLUDED.changed, body = EXCLUDED.body;\n" \
"  ELSE\n" \
"    DELETE FROM ucwa_pool_user WHERE sip = usr AND fe = me;\n" \
"  END IF;\n" \
"  FOR f IN SELECT fe FROM ucwa_pool_fe WHERE fe <> me AND lease_until > now()\n" \
"      AND fe NOT LIKE '~%' ORDER BY fe\n" \
"  LOOP PERFORM ucwa_pool_post(f, msg); END LOOP;\n" \
"  FOR f IN SELECT pool FROM ucwa_pool_watch WHERE sip = usr AND until > now() ORDER BY pool\n" \
"  LOOP PERFORM ucwa_pool_post('@' || f, msg); END LOOP;\n" \
"END $$ LANGUAGE plpgsql;\n" \
/* a shipment's runs of plain messages and presence changes, one round trip each: \
 * [[target, body], ...] and [[sip, available, changed, body], ...], in their order */ \
"CREATE OR REPLACE FUNCTION ucwa_pool_post_many(msgs json) RETURNS void AS $$\n" \
"DECLARE x json;\n" \
"BEGIN\n" \
"  FOR x IN SELECT e FROM json_array_elements(msgs) WITH ORDINALITY AS a(e, n) ORDER BY n\n" \
"  LOOP PERFORM ucwa_pool_post(x->>0, x->>1); END LOOP;\n" \
"END $$ LANGUAGE plpgsql;\n" \
"CREATE OR REPLACE FUNCTION ucwa_pool_presence_many(me text, users json) RETURNS void AS $$\n" \
"DECLARE x json;\n" \
"BEGIN\n" \
"  FOR x IN SELECT e FROM json_array_elements(users) WITH ORDINALITY AS a(e, n) ORDER BY n\n" \
"  LOOP PERFORM ucwa_pool_presence(me, x->>0, (x->>1)::int, (x->>2)::bigint, x->>3);\n" \
"  END LOOP;\n" \
"END $$ LANGUAGE plpgsql;\n" \
"CREATE OR REPLACE FUNCTION ucwa_pool_invite(kfe text, kconv text, target text, msg text)\n" \
"    RETURNS void AS $$\n" \
"BEGIN\n" \
"  INSERT INTO ucwa_pool_invite (key_fe, key_conv, fe) VALUES (kfe, kconv, target)\n" \
"    ON CONFLICT DO NOTHING;\n" \
"  PERFORM ucwa_pool_post(target, msg);\n" \
"END $$ LANGUAGE plpgsql;\n" \
/* a call from SIP (the SIP side of a Front End, kfe "~sip:FE"): the invitation to every \
 * live Front End where the user has applications; kfe learns how many ring ("invited") */ \
"CREATE OR REPLACE FUNCTION ucwa_pool_invite_user(kfe text, kconv text, usr text, msg text)\n" \
"    RETURNS void AS $$\n" \
"DECLARE f text; n int := 0;\n" \
"BEGIN\n" \
"  FOR f IN SELECT u.fe FROM ucwa_pool_user u JOIN ucwa_pool_fe x ON x.fe = u.fe\n" \
"      WHERE u.sip = usr AND u.available > 0 AND x.lease_until > now() ORDER BY u.fe LOOP\n" \
"    PERFORM ucwa_pool_invite(kfe, kconv, f, msg);\n" \
"    n := n + 1;\n" \
"  END LOOP;\n" \
"  PERFORM ucwa_pool_post(kfe, json_build_object('k', 'invited', 'fe', kfe, 'conv', kconv,\n" \
"                                                'n', n)::text);\n" \
"END $$ LANGUAGE plpgsql;\n" \
/* a SIP side's new process (its Front End lives): the others end what they held with \
 * the earlier one, but for the established calls it took back (keep: their conv keys); \
 * what waits for it is its own (a left for a call taken back ends it there) */ \
"CREATE OR REPLACE FUNCTION ucwa_pool_sip_join(me text, lease float8, keep json)\n" \
"    RETURNS void AS $$\n" \
"DECLARE f text;\n" \
"BEGIN\n" \
"  INSERT INTO ucwa_pool_fe (fe, lease_until) VALUES (me, now() + lease * interval '1 s')\n" \
"    ON CONFLICT (fe) DO UPDATE SET lease_until = EXCLUDED.lease_until;\n" \
"  DELETE FROM ucwa_pool_invite WHERE key_fe = me;\n" \
"  FOR f IN SELECT fe FROM ucwa_pool_fe WHERE fe <> me AND lease_until > now() ORDER BY fe\n" \
"  LOOP PERFORM ucwa_pool_post(f, json_build_object('k', 'fe-gone', 'fe', me,\n" \
"                                                  'keep', keep)::text);\n" \
"  END LOOP;\n" \
"END $$ LANGUAGE plpgsql;\n" \
/* the SIP side's row: its lease is its Front End's, renewed by that Front End's thread */ \
"CREATE OR REPLACE FUNCTION ucwa_pool_sip_beat(me text, lease float8) RETURNS void AS $$\n" \
"BEGIN\n" \
"  INSERT INTO ucwa_pool_fe (fe, lease_until) VALUES (me, now() + lease * interval '1 s')\n" \
"    ON CONFLICT (fe) DO UPDATE SET lease_until = EXCLUDED.lease_until;\n" \
"END $$ LANGUAGE plpgsql;\n" \
/* an invited Front End has nobody (left) to alert: the inviter learns it once, from it or \
 * from the reaper (a linked pool's inviter keeps its invitations in its own database) */ \
"CREATE OR REPLACE FUNCTION ucwa_pool_gone(kfe text, kconv text, me text, msg text)\n" \
"    RETURNS void AS $$\n" \
"BEGIN\n" \
"  DELETE FROM ucwa_pool_invite WHERE key_fe = kfe AND key_conv = kconv AND fe = me;\n" \
"  IF FOUND OR position('@' in kfe) > 0 THEN PERFORM ucwa_pool_post(kfe, msg); END IF;\n" \
"END $$ LANGUAGE plpgsql;\n" \
"CREATE OR REPLACE FUNCTION ucwa_pool_to_invited(kfe text, kconv text, msg text)\n" \
"    RETURNS void AS $$\n" \
"DECLARE f text;\n" \
"BEGIN\n" \
"  FOR f IN SELECT fe FROM ucwa_pool_invite WHERE key_fe = kfe AND key_conv = kconv\n" \
"    ORDER BY fe LOOP PERFORM ucwa_pool_post(f, msg); END LOOP;\n" \
"END $$ LANGUAGE plpgsql;\n" \
/* the first answer to an invitation wins, wherever it is given */ \
"CREATE OR REPLACE FUNCTION ucwa_pool_claim(kfe text, kconv text, me text, verdict text,\n" \
"    msg text, others text) RETURNS boolean AS $$\n" \
"DECLARE f text;\n" \
"BEGIN\n" \
"  INSERT INTO ucwa_pool_claim (key_fe, key_conv, fe, verdict)\n" \
"    VALUES (kfe, kconv, me, verdict) ON CONFLICT DO NOTHING;\n" \
"  IF NOT FOUND THEN RETURN false; END IF;\n" \
"  FOR f IN SELECT x FROM (SELECT kfe AS x UNION SELECT fe FROM ucwa_pool_invite\n" \
"      WHERE key_fe = kfe AND key_conv = kconv) t WHERE x <> me ORDER BY x LOOP\n" \
"    PERFORM ucwa_pool_post(f, CASE WHEN f = kfe THEN msg ELSE others END);\n" \
"  END LOOP;\n" \
"  RETURN true;\n" \
"END $$ LANGUAGE plpgsql;\n" \
/* Front End me starts with an empty store: what its earlier life left is gone (told to \
 * the linked pools too, when it had an earlier life: they may hold conversations with \
 * it; links: a JSON array of their names) */ \
"CREATE OR REPLACE FUNCTION ucwa_pool_join(me text, lease float8, links json)\n" \
"    RETURNS bigint AS $$\n" \
"DECLARE n bigint; f text;\n" \
"BEGIN\n" \
"  IF EXISTS (SELECT 1 FROM ucwa_pool_fe WHERE fe = me) THEN\n" \
"    FOR f IN SELECT json_array_elements_text(links) LOOP\n" \
"      PERFORM ucwa_pool_post('@' || f, json_build_object('k', 'fe-gone', 'fe', me)::text);\n" \
"    END LOOP;\n" \
"  END IF;\n" \
"  INSERT INTO ucwa_pool_fe (fe, lease_until) VALUES (me, now() + lease * interval '1 s')\n" \
"    ON CONFLICT (fe) DO UPDATE SET lease_until = EXCLUDED.lease_until;\n" \
"  DELETE FROM ucwa_pool_event WHERE fe = me;\n" \
"  DELETE FROM ucwa_pool_user WHERE fe = me;\n" \
"  DELETE FROM ucwa_pool_invite WHERE key_fe = me OR fe = me;\n" \
"  FOR f IN SELECT fe FROM ucwa_pool_fe WHERE fe <> me AND lease_until > now() ORDER BY fe\n" \
"  LOOP PERFORM ucwa_pool_post(f, json_build_object('k', 'fe-gone', 'fe', me)::text);\n" \
"  END LOOP;\n" \
"  SELECT seq INTO n FROM ucwa_pool_fe WHERE fe = me;\n" \
"  RETURN n;\n" \
"END $$ LANGUAGE plpgsql;\n" \
/* Front Ends whose lease ran out: one survivor (the row lock) clears what they held \
 * and tells the others, and the linked pools (links: a JSON array of their names), whose \
 * Front Ends may hold conversations with it */ \
"CREATE OR REPLACE FUNCTION ucwa_pool_reap(me text, links json) RETURNS SETOF text AS $$\n" \
"DECLARE d text; f text; i record;\n" \
"BEGIN\n" \
"  FOR d IN SELECT fe FROM ucwa_pool_fe WHERE lease_until < now() AND fe <> me ORDER BY fe\n" \
"      FOR UPDATE SKIP LOCKED LOOP\n" \
"    DELETE FROM ucwa_pool_user WHERE fe = d;\n" \
"    DELETE FROM ucwa_pool_event WHERE fe = d;\n" \
     /* what d was alerting for inviters elsewhere: nobody there any more */ \
"    FOR i IN DELETE FROM ucwa_pool_invite WHERE fe = d AND key_fe <> d\n" \
"        RETURNING key_fe, key_conv LOOP\n" \
"      PERFORM ucwa_pool_post(i.key_fe, json_build_object('k', 'gone', 'fe', i.key_fe,\n" \
"                                                         'conv', i.key_conv)::text);\n" \
"    END LOOP;\n" \
"    DELETE FROM ucwa_pool_invite WHERE key_fe = d OR fe = d;\n" \
"    DELETE FROM ucwa_pool_fe WHERE fe = d;\n" \
"    FOR f IN SELECT fe FROM ucwa_pool_fe WHERE lease_until > now() ORDER BY fe\n" \
"    LOOP PERFORM ucwa_pool_post(f, json_build_object('k', 'fe-gone', 'fe', d)::text);\n" \
"    END LOOP;\n" \
"    FOR f IN SELECT json_array_elements_text(links) LOOP\n" \
"      PERFORM ucwa_pool_post('@' || f, json_build_object('k', 'fe-gone', 'fe', d)::text);\n" \
"    END LOOP;\n" \
"    RETURN NEXT d;\n" \
"  END LOOP;\n" \
"  DELETE FROM ucwa_pool_claim WHERE created < now() - interval '1 hour';\n" \
"  DELETE FROM ucwa_pool_invite WHERE created < now() - interval '1 day';\n" \
"  DELETE FROM ucwa_pool_relay WHERE created < now() - interval '1 day';\n" \
"  DELETE FROM ucwa_pool_sdp WHERE created < now() - interval '10 min';\n" \
"  DELETE FROM ucwa_pool_watch WHERE until < now();\n" \
"  DELETE FROM ucwa_pool_move WHERE asked < now() - interval '1 min';\n" \
"END $$ LANGUAGE plpgsql;\n" \
UCWA_POOL_PUSH_SCHEMA \
"COMMIT;\n"

#endif
