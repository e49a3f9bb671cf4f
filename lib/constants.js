'use strict';
// What several of the session's modules share: its states, the empty
// backlog, the SESSION MESSAGE header size, tracing, and `written`. It
// requires none of them, so each can require it without a cycle.

const util = require('util');

const debug = util.debuglog('netbios-session');
// Node reads NODE_DEBUG once, at startup: read the answer once too, not
// through the `enabled` getter on every frame.
const TRACING = debug.enabled;

const HEADER_LENGTH = 4;

const State = Object.freeze({
  IDLE: 'idle',
  CONNECTING: 'connecting', // caller: TCP connect under way
  AWAITING_RESPONSE: 'awaiting-response', // caller: request sent
  AWAITING_REQUEST: 'awaiting-request', // called: attached, no request yet
  AWAITING_DECISION: 'awaiting-decision', // called: request handed to the user
  ESTABLISHED: 'established',
  CLOSED: 'closed',
});

// The backlog of every session with nothing held: never written to.
const NO_BACKLOG = Object.freeze([]);

/** `out` cut to the `length` bytes the binding wrote into it. */
function written(out, length) {
  return length === out.length ? out : out.subarray(0, length);
}

module.exports = { debug, TRACING, HEADER_LENGTH, State, NO_BACKLOG, written };
