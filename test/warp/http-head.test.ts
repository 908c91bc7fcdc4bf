import test from 'ava';
import { StreamReader, TimeoutError, sleep, type Coroutine } from '../../src/index.js';
import {
  readHead, parseHead, rewrite, parseAuthority, targetPath, targetAuthority, decoyHeaders, DECOY_LINE, hostPieces, errorResponse, HttpError,
} from '../../examples/warp-proxy/http-head.js';
import { runVirtual } from '../helpers/run-virtual.js';

function* settle(c: Coroutine<unknown>): Coroutine<unknown> {
  try { return yield* c; } catch (e) { return e; }
}

function* headOf(bytes: string, limit?: number): Coroutine<string[] | null | HttpError> {
  const r = new StreamReader(limit);
  r.feedData(Buffer.from(bytes, 'latin1'));
  r.feedEof();
  try { return yield* readHead(r); } catch (e) { return e as HttpError; }
}

test('readHead: CRLF and bare-LF lines, stray leading blank lines, EOF before the end', async (t) => {
  await runVirtual(t, function* () {
    t.deepEqual(yield* headOf('GET / HTTP/1.1\r\nHost: a\r\n\r\nbody'), ['GET / HTTP/1.1', 'Host: a']);
    t.deepEqual(yield* headOf('\r\nGET / HTTP/1.1\nHost: a\n\n'), ['GET / HTTP/1.1', 'Host: a']);
    t.is(yield* headOf('GET / HTTP/1.1\r\nHost: a\r\n'), null);
    t.is(yield* headOf(''), null);
    t.deepEqual(yield* headOf('GET / HTTP/1.1\r\nX: \xe9\xff\r\n\r\n'), ['GET / HTTP/1.1', 'X: \xe9\xff'], 'latin-1, not UTF-8');
  });
});

test('readHead: the timeout bounds the whole head, stray blank lines before it included', async (t) => {
  await runVirtual(t, function* ({ loop }) {
    const r = new StreamReader();
    const start = loop.time();
    // A blank line every 20 s against a 30 s timeout: each restarted the timeout, for ever.
    const feeder = loop.createTask(function* (): Coroutine<void> {
      for (let i = 0; i < 5; i++) { yield* sleep(20); r.feedData(Buffer.from('\r\n\r\n')); }
    }());
    const error = yield* settle(readHead(r, undefined, 30));
    t.true(error instanceof TimeoutError);
    t.is(loop.time() - start, 30);
    feeder.cancel();
    const r2 = new StreamReader();
    loop.callLater(20, () => r2.feedData(Buffer.from('\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n')));
    t.deepEqual(yield* readHead(r2, undefined, 30), ['GET / HTTP/1.1', 'Host: a']);
  });
});

test('readHead: a head over 64 KiB, or one line over the reader limit, is a 431', async (t) => {
  await runVirtual(t, function* () {
    const many = 'GET / HTTP/1.1\r\n' + Array.from({ length: 700 }, (_, i) => `X-${i}: ${'v'.repeat(100)}\r\n`).join('') + '\r\n';
    t.is(((yield* headOf(many)) as HttpError).status, 431);
    t.is(((yield* headOf(`GET / HTTP/1.1\r\nX: ${'v'.repeat(200)}\r\n\r\n`, 100)) as HttpError).status, 431);
  });
});

test('parseHead refuses malformed request lines and headers with 400', (t) => {
  const bad = (lines: string[]) => t.is(t.throws(() => parseHead(lines), { instanceOf: HttpError })!.status, 400);
  bad([]);
  bad(['GET /']);
  bad(['GET / HTTX/1.1']);
  bad(['GET / HTTP/1.1 extra']); // exactly two spaces (RFC 9112 §3)
  bad(['GET  / HTTP/1.1']);
  bad([' GET / HTTP/1.1']);
  bad(['GET / HTTP/1.10']);
  bad(['G(T / HTTP/1.1']);
  bad(['GET / HTTP/1.1', 'no colon here']);
  bad(['GET / HTTP/1.1', 'Bad Name: x']);
  bad(['GET / HTTP/1.1', 'X: a\rb']);
  const head = parseHead(['GET http://a/ HTTP/1.1', 'Host:a.example', 'X-Y:  spaced  ']);
  t.deepEqual(head.headers.map((h) => [h.name, h.value]), [['Host', 'a.example'], ['X-Y', 'spaced']]);
});

test('targetPath takes the path and query from an absolute URI; origin-form passes', (t) => {
  t.is(targetPath('http://h:1/a/b?q=1&r=/x'), '/a/b?q=1&r=/x');
  t.is(targetPath('http://h'), '/');
  t.is(targetPath('http://h?x=1'), '/?x=1');
  t.is(targetPath('http://user@h/p#frag'), '/p');
  t.is(targetPath('/origin?form'), '/origin?form');
  t.throws(() => targetPath('h/p'), { instanceOf: HttpError });
});

test('parseAuthority: default ports, IPv6 literals, bad ports', (t) => {
  t.deepEqual(parseAuthority('a.example', 80), { host: 'a.example', port: 80 });
  t.deepEqual(parseAuthority('a.example:8080', 80), { host: 'a.example', port: 8080 });
  t.deepEqual(parseAuthority('[::1]:8443', 443), { host: '::1', port: 8443 });
  t.deepEqual(parseAuthority('[::1]', 443), { host: '::1', port: 443 });
  t.deepEqual(parseAuthority('a.example:00080', 80), { host: 'a.example', port: 80 });
  for (const v of ['a:0', 'a:65536', 'a:x', '[::1', '[::1]x', '', 'a b:1', ':80', 'a:', 'a:123456', 'a:-1', 'a\tb:1', 'a/b', 'a?b', 'a#b', 'u@a', 'a\u00a0b']) {
    t.throws(() => parseAuthority(v, 80), { instanceOf: HttpError }, v);
  }
});

test('rewrite: Host moved out, Proxy-Connection and hop-by-hop gone, keep-alive -> close in place', (t) => {
  const head = parseHead([
    'GET http://up:81/x HTTP/1.1', 'User-Agent: u', 'Connection: keep-alive, X-Secret',
    'Proxy-Connection: keep-alive', 'Proxy-Authorization: Basic abc', 'Keep-Alive: 5', 'X-Secret: s', 'Host: up:81', 'Accept: */*',
  ]);
  const rw = rewrite(head);
  t.is(rw.host, 'up:81');
  t.deepEqual(rw.upstream, { host: 'up', port: 81 });
  t.is(rw.path, '/x');
  t.deepEqual(rw.kept, ['User-Agent: u', 'Connection: close', 'Accept: */*']);
  const appended = rewrite(parseHead(['GET / HTTP/1.1', 'Host: h']));
  t.deepEqual(appended.kept, ['Connection: close'], 'a Host-only request is served, with Connection: close');
  t.is(t.throws(() => rewrite(parseHead(['GET / HTTP/1.1', 'Accept: x'])), { instanceOf: HttpError })!.status, 400);
});

test("rewrite follows RFC 9112's proxy rules: the target's authority wins, one Host, one framing", (t) => {
  const status = (lines: string[]) => {
    try { rewrite(parseHead(lines)); return 'ok'; } catch (e) { return `${(e as HttpError).status} ${(e as HttpError).message}`; }
  };
  // absolute-form: where the request goes and the Host sent come from the target (§3.2.2)
  const rw = rewrite(parseHead(['GET http://a.example:8080/p?q HTTP/1.1', 'Host: b.example']));
  t.is(rw.host, 'a.example:8080');
  t.deepEqual(rw.upstream, { host: 'a.example', port: 8080 });
  t.is(rw.path, '/p?q');
  // HTTP/1.0 needs no Host when the target names the host; HTTP/1.1 always does (§3.2)
  t.is(rewrite(parseHead(['GET http://a.example/ HTTP/1.0'])).host, 'a.example');
  t.regex(status(['GET http://a.example/ HTTP/1.1']), /^400 missing Host/);
  t.regex(status(['GET / HTTP/1.0']), /^400 missing Host/);
  t.regex(status(['GET http://a/ HTTP/1.1', 'Host: a', 'Host: b']), /^400 more than one Host/);
  t.regex(status(['POST http://a/ HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked', 'Content-Length: 5']), /^400 both Transfer-Encoding and Content-Length/);
  t.regex(status(['GET http://user:pw@a/ HTTP/1.1', 'Host: a']), /^400 userinfo/);
  t.regex(status(['GET https://a/ HTTP/1.1', 'Host: a']), /^400 https:\/\/ targets are not proxied/);
  t.regex(status(['GET http:///x HTTP/1.1', 'Host: a']), /^400 no host/);
  t.is(status(['POST http://a/ HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked']), 'ok');
  t.is(targetAuthority('/x'), null);
  t.is(targetAuthority('HTTP://[::1]:81/'), '[::1]:81');
});

test('decoys are 32 lines of X-<16 A-Z>: <128 A-Za-z0-9>, new every time', (t) => {
  const a = decoyHeaders().toString('latin1');
  const lines = a.split('\r\n');
  t.is(lines.pop(), '');
  t.is(lines.length, 32);
  for (const l of lines) t.regex(l, /^X-[A-Z]{16}: [A-Za-z0-9]{128}$/);
  t.not(a, decoyHeaders().toString('latin1'));
});

test('decoys: any count, written in place at any offset, every letter used, never repeated across pool refills', (t) => {
  const out = Buffer.alloc(3 + 40 * DECOY_LINE + 2, 0x2e);
  t.is(decoyHeaders(40, out, 3), out);
  t.is(out.toString('latin1', 0, 3), '...', 'bytes before the decoys are untouched');
  t.is(out.toString('latin1', out.length - 2), '..', 'and after');
  t.regex(out.toString('latin1', 3, out.length - 2), /^(X-[A-Z]{16}: [A-Za-z0-9]{128}\r\n){40}$/);
  const seen = new Set<string>();
  const chars = new Set<string>();
  for (let i = 0; i < 40; i++) { // more than one pool of random bytes
    const d = decoyHeaders().toString('latin1');
    t.false(seen.has(d));
    seen.add(d);
    for (const line of d.split('\r\n')) for (const c of line.slice(20)) chars.add(c);
  }
  t.is(chars.size, 62, 'the values use all of A-Z, a-z and 0-9');
});

test('hostPieces: first 1 character, then 2-4 each, covering the host exactly', (t) => {
  for (let i = 0; i < 50; i++) {
    const host = 'www.example.com:8080'.slice(0, 1 + (i % 20));
    const pieces = hostPieces(host);
    t.is(pieces.join(''), host);
    t.is(pieces[0]!.length, 1);
    for (const p of pieces.slice(1, -1)) t.true(p.length >= 2 && p.length <= 4);
  }
  t.deepEqual(hostPieces(''), []);
  t.deepEqual(hostPieces('abcdefgh', () => 3), ['a', 'bcd', 'efg', 'h']);
});

test('errorResponse is a complete HTTP answer with Connection: close', (t) => {
  const r = errorResponse(502, 'down');
  t.regex(r, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
  t.regex(r, /Connection: close\r\n\r\n502 Bad Gateway: down\n$/);
});

test('fuzzed heads: every one is forwarded, closed (null) or answered with an HttpError; nothing forwarded carries a stray CR or LF', async (t) => {
  // A seeded xorshift32, so a failure names an input that can be replayed.
  let state = 0x9e3779b9;
  const rnd = (n: number): number => {
    state ^= state << 13; state >>>= 0; state ^= state >>> 17; state ^= state << 5; state >>>= 0;
    return state % n;
  };
  const pick = (a: string[]): string => a[rnd(a.length)]!;
  const bits = ['GET', 'CONNECT', ' ', '\t', 'http://', 'https://', '[::1]', '[', ']', ':', '80', '99999', '/', '?', '#', '@',
    'Host', 'Connection', 'close', ',', ': ', '\r\n', '\n', '\r', '\0', 'HTTP/1.1', 'a.b', 'x'.repeat(300), '\xff', '-1', 'user:pw@'];
  const junk = (): string => { let j = ''; for (let k = rnd(4); k > 0; k--) j += pick(bits); return j; };
  const targets = ['http://example.com/', 'http://example.com', 'http://[::1]:8080/x?y', 'http://a.b:99999/', '/path',
    'example.com:443', '[::1]:443', 'http://user@h/', 'http://h/?q#f', '*'];
  let forwarded = 0, answered = 0, closed = 0;
  await runVirtual(t, function* () {
    for (let i = 0; i < 4000; i++) {
      let s = `${pick(['GET', 'POST', 'CONNECT', 'G E T', junk()])} ${rnd(4) > 0 ? pick(targets) : 'http://' + junk() + '/'} ${pick(['HTTP/1.1', 'HTTP/1.0', junk()])}${pick(['\r\n', '\n'])}`;
      for (let k = rnd(6); k > 0; k--) {
        s += `${pick(['Host', 'host', 'Connection', 'Proxy-Connection', 'Content-Length', 'Transfer-Encoding', 'Upgrade', 'Proxy-Authorization', junk()])}`;
        s += `${pick([': ', ':', ' : ', junk()])}${rnd(3) > 0 ? pick(['example.com', 'keep-alive, Upgrade', 'close', '5', 'chunked', '[::1]:80']) : junk()}${pick(['\r\n', '\n', junk()])}`;
      }
      s += pick(['\r\n', '\n', '']);
      if (rnd(4) === 0) { const at = rnd(s.length + 1); s = s.slice(0, at) + pick(bits) + s.slice(at); }
      const lines = yield* headOf(s);
      if (lines === null) { closed++; continue; }
      if (lines instanceof Error) {
        if (!(lines instanceof HttpError)) return t.fail(`${lines.name} for ${JSON.stringify(s)}`);
        answered++;
        continue;
      }
      try {
        const head = parseHead(lines);
        const rw = head.method === 'CONNECT' ? null : rewrite(head);
        if (rw !== null && (/[\r\n\0]/.test(rw.host + rw.path) || rw.kept.some((l) => /[\r\n\0]/.test(l)))) return t.fail(`CR/LF/NUL forwarded for ${JSON.stringify(s)}`);
        forwarded++;
      } catch (e) {
        if (!(e instanceof HttpError)) return t.fail(`${(e as Error).name} for ${JSON.stringify(s)}`);
        answered++;
      }
    }
  });
  t.log(`forwarded ${forwarded}, answered ${answered}, closed ${closed}`);
  t.true(forwarded > 50 && answered > 500 && closed > 50);
});
