'use strict';
// COMPAT.md "Events": 'message' is one Buffer per SESSION MESSAGE, never
// merged or split, and keep alives are discarded, however the byte stream
// is cut into chunks. A recorded conversation, built by hand, is fed to an
// attach()ed called node through an in-memory duplex pair, split at chunk
// boundaries; every split must give the same observations.
//
// The request part is written first, and the message part only once the
// session has accepted: a real caller waits for the POSITIVE response
// (messages pipelined behind the request, COMPAT.md point 7, are covered in
// strict-state.test.js and pipelined.test.js).

const test = require('node:test');
const assert = require('node:assert/strict');
const { createHash } = require('crypto');

const NetbiosSession = require('..');
const { duplexPair, encodeName, requestFrame, messageFrame, fromHex, withTimeout } = require('./helpers');

// ---- the recorded conversation ------------------------------------------

const SCOPE = 'scope.test';
const REQUEST_PART = requestFrame(encodeName('FILESERVER', 0x20, SCOPE), encodeName('CLIENT', 0x00, SCOPE));
const KEEP_ALIVE = fromHex('85 00 00 00');
// 66000 > 65535: its header is 00 01 01 d0, the E bit (0x01) carries bit 16.
const SIZES = [0, 1, 3, 4, 100, 66000, 2];

function payload(n, seed) {
  const out = Buffer.allocUnsafe(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const MESSAGES = SIZES.map((n, i) => payload(n, i + 1));
const FRAMES = MESSAGES.map(messageFrame);
const MESSAGE_PART = Buffer.concat([
  KEEP_ALIVE,
  FRAMES[0],
  FRAMES[1],
  KEEP_ALIVE,
  KEEP_ALIVE,
  FRAMES[2],
  FRAMES[3],
  KEEP_ALIVE,
  FRAMES[4],
  FRAMES[5],
  KEEP_ALIVE,
  FRAMES[6],
]);

function describeMessage(message) {
  return `message ${message.length} ${createHash('sha1').update(message).digest('hex')}`;
}

// What every variant must observe, written down from the conversation itself.
const EXPECTED = [
  'request FILESERVER<20>.scope.test from CLIENT<00>.scope.test',
  'connect',
  ...MESSAGES.map(describeMessage),
  'end',
  'sent to the client: 82000000',
];

// ---- one run ---------------------------------------------------------------

/**
 * Feeds the conversation to a fresh called node: `requestChunks` first, then,
 * once the session accepted, `messageChunks`, then the client's end.
 * Resolves with the list of observations.
 */
async function converse(requestChunks, messageChunks, { withCallback = true } = {}) {
  const [client, server] = duplexPair();
  const session = new NetbiosSession({ autoAccept: true });
  const observed = [];
  const sent = [];
  client.on('data', (chunk) => sent.push(chunk));
  let chunksReceived = 0;
  server.on('data', () => chunksReceived++);
  let settleAccepted;
  let settleDone;
  const accepted = new Promise((resolve) => {
    settleAccepted = resolve;
  });
  const done = new Promise((resolve) => {
    settleDone = resolve;
  });
  const finish = () => {
    settleAccepted();
    settleDone();
  };
  session.on('connect', () => {
    observed.push('connect');
    settleAccepted();
  });
  session.on('message', (message) => observed.push(describeMessage(message)));
  session.on('error', (error) => {
    observed.push(`error ${error.message}`);
    finish();
  });
  session.on('end', () => {
    observed.push('end');
    finish();
  });
  session.on('close', finish);
  if (withCallback) {
    session.attach(server, (error, request) => {
      if (error) {
        observed.push(`attach error ${error.message}`);
        finish();
        return;
      }
      observed.push(`request ${String(request.callTo)} from ${String(request.callFrom)}`);
      request.accept();
    });
  } else {
    session.attach(server);
  }
  try {
    for (const chunk of requestChunks) client.write(chunk);
    await withTimeout(accepted, "the session's acceptance");
    for (const chunk of messageChunks) client.write(chunk);
    client.end();
    await withTimeout(done, "the session's end");
  } finally {
    session.end();
    client.destroy();
    server.destroy();
  }
  observed.push(`sent to the client: ${Buffer.concat(sent).toString('hex')}`);
  // Not an observation (it differs per variant): how many chunks the session's stream delivered.
  Object.defineProperty(observed, 'chunksReceived', { value: chunksReceived });
  return observed;
}

/** Two chunks, cut at `at`. */
function cut(buffer, at) {
  return [buffer.subarray(0, at), buffer.subarray(at)];
}

/** The first `n` bytes one by one, then the rest in one chunk. */
function byteByByte(buffer, n = buffer.length) {
  const chunks = [];
  for (let i = 0; i < Math.min(n, buffer.length); i++) chunks.push(buffer.subarray(i, i + 1));
  if (n < buffer.length) chunks.push(buffer.subarray(n));
  return chunks;
}

/**
 * Runs every variant and asserts each observed exactly EXPECTED, naming the
 * first that did not, and that the stream really delivered the chunks as cut.
 */
async function assertAllVariants(variants, expected = EXPECTED) {
  const wanted = JSON.stringify(expected);
  for (const { label, requestChunks, messageChunks, options } of variants) {
    const observed = await converse(requestChunks, messageChunks, options);
    if (JSON.stringify(observed) !== wanted) {
      assert.deepEqual(observed, expected, `variant ${label} observed something else`);
    }
    assert.equal(observed.chunksReceived, requestChunks.length + messageChunks.length, `variant ${label}: chunks were merged`);
  }
}

// Boundaries inside the message part. Every boundary of the small frames,
// the keep alives and all headers is used; inside the 66000-byte payload
// only a representative subset: 64 bytes either side of its start and end,
// of every 16 KiB multiple of the stream (typical socket chunk edges) and of
// payload offset 65536 (where it passes 64 KiB), plus every 251st boundary
// in between. All 66157 boundaries were measured at about 11 s on a 2-core
// machine (every one passed), over the file's ~10 s budget; this subset of
// about 1200 runs in well under a second there.
function messageBoundaries() {
  const bigStart = MESSAGE_PART.indexOf(FRAMES[5].subarray(0, 4 + 64)) + 4;
  const bigEnd = bigStart + SIZES[5];
  const near = new Set();
  const around = (center) => {
    for (let i = center - 64; i <= center + 64; i++) near.add(i);
  };
  around(bigStart);
  around(bigEnd);
  for (let edge = 16384; edge < MESSAGE_PART.length; edge += 16384) around(edge);
  around(bigStart + 65536);
  for (let at = bigStart; at < bigEnd; at += 251) near.add(at);
  const boundaries = [];
  for (let at = 1; at < MESSAGE_PART.length; at++) {
    const insideBig = at > bigStart && at < bigEnd;
    if (!insideBig || near.has(at)) boundaries.push(at);
  }
  return { boundaries, bigStart, bigEnd };
}

// ---- tests ---------------------------------------------------------------------

test('the hand-built conversation has the shape the tests rely on', () => {
  // FILESERVER<20> and CLIENT<00>, each 34 bytes + ".scope.test" as two labels (6 + 5 + 2).
  assert.equal(REQUEST_PART.length, 4 + 2 * (34 + 11));
  assert.deepEqual(REQUEST_PART.subarray(0, 4), fromHex('81 00 00 5a'));
  assert.deepEqual(FRAMES[5].subarray(0, 4), fromHex('00 01 01 d0'), '66000 = 0x101d0 uses the E bit 0x01');
  assert.ok(MESSAGE_PART.length > 65536 + 4);
});

test('COMPAT.md Events: the unsplit conversation gives the request names, connect, 7 messages (0..66000 bytes, keep alives dropped) and end', async () => {
  assert.deepEqual(await converse([REQUEST_PART], [MESSAGE_PART]), EXPECTED);
});

test('COMPAT.md Events: autoAccept with no attach callback accepts and delivers the same messages', async () => {
  assert.deepEqual(
    await converse([REQUEST_PART], [MESSAGE_PART], { withCallback: false }),
    EXPECTED.slice(1)
  );
  assert.deepEqual(
    await converse(cut(REQUEST_PART, 40), cut(MESSAGE_PART, 50), { withCallback: false }),
    EXPECTED.slice(1)
  );
});

test('SESSION REQUEST split in two at every byte boundary (1..93) gives identical observations', async () => {
  const variants = [];
  for (let at = 1; at < REQUEST_PART.length; at++) {
    variants.push({ label: `request cut at ${at}`, requestChunks: cut(REQUEST_PART, at), messageChunks: [MESSAGE_PART] });
  }
  assert.equal(variants.length, REQUEST_PART.length - 1);
  await assertAllVariants(variants);
});

test('SESSION REQUEST written byte by byte gives identical observations', async () => {
  await assertAllVariants([{ label: 'request byte by byte', requestChunks: byteByByte(REQUEST_PART), messageChunks: [MESSAGE_PART] }]);
});

test('message part (keep alives + 7 messages) split in two at every boundary outside the 66000-byte payload and a representative subset inside it gives identical observations', async () => {
  const { boundaries, bigStart, bigEnd } = messageBoundaries();
  // Every boundary outside the big payload is present.
  assert.equal(boundaries.filter((at) => at <= bigStart || at >= bigEnd).length, MESSAGE_PART.length - 1 - (bigEnd - bigStart - 1));
  const variants = boundaries.map((at) => ({
    label: `message part cut at ${at}`,
    requestChunks: [REQUEST_PART],
    messageChunks: cut(MESSAGE_PART, at),
  }));
  await assertAllVariants(variants);
});

test('message part written byte by byte for its first 300 bytes (then the rest) gives identical observations', async () => {
  await assertAllVariants([
    { label: 'first 300 message-part bytes one by one', requestChunks: [REQUEST_PART], messageChunks: byteByByte(MESSAGE_PART, 300) },
    { label: 'request and first 300 message-part bytes one by one', requestChunks: byteByByte(REQUEST_PART), messageChunks: byteByByte(MESSAGE_PART, 300) },
  ]);
});
