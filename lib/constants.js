'use strict';
// What several of the session's modules share: its states, the empty
// backlog, the SESSION MESSAGE header size, frame names and tracing. It
// requires none of them, so each can require it without a cycle.

const util = require('util');

const native = require('./native');

const debug = util.debuglog('netbios-session');
// Node reads NODE_DEBUG once, at startup: read the answer once too, not
// through the `enabled` getter on every frame.
const TRACING = debug.enabled;

const { HEADER_LENGTH } = native;

// A session's state: the core's (the numbers of its State, which every
// native call that changes it returns and every event implies), and IDLE
// before attach() or connect() made one. After teardown it is CLOSED.
const State = Object.freeze({ IDLE: -1, ...native.states });

// State names for tracing, by number: AWAITING_RESPONSE is 'awaiting-response'.
const STATE_NAMES = Object.freeze(
  Object.fromEntries(Object.entries(State).map(([name, number]) => [number, name.toLowerCase().replace(/_/g, '-')]))
);
// Frame names for tracing, by event kind and for what the session sends.
const { frames: FRAMES } = native;
const { events } = native;
const SENT = Object.freeze({
  REQUEST: FRAMES[events.REQUEST],
  POSITIVE: FRAMES[events.ESTABLISHED],
  CLOSING_ANSWER: `${FRAMES[events.FALLBACK]} or ${FRAMES[events.RETARGET]}`,
  KEEP_ALIVE: FRAMES[events.KEEP_ALIVE],
  MESSAGE: FRAMES[events.MESSAGE],
});

// The backlog of every session with nothing held: never written to.
const NO_BACKLOG = Object.freeze([]);

module.exports = { debug, TRACING, HEADER_LENGTH, State, STATE_NAMES, FRAMES, SENT, NO_BACKLOG };
