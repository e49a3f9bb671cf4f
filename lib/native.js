'use strict';
// Loads the addon built by scripts/build.js and names the event kinds that
// table.feed() writes (the same numbers as src/lib.rs).

const path = require('path');

const file = path.join(__dirname, '..', 'netbios-session.node');

let binding;
try {
  binding = require(file);
} catch (cause) {
  const error = new Error(
    `netbios-session: cannot load its native addon ${file} (${cause.message}). ` +
      'It is built from source when the package installs; run `npm run build` in the package folder to build it again.'
  );
  error.code = 'ERR_NETBIOS_ADDON';
  error.cause = cause;
  throw error;
}

// Every session's native state lives in a table per JS thread, addressed by
// the id open()/openCall() return; these functions act on this thread's.
const table = {
  open: binding.open,
  openCall: binding.openCall,
  close: binding.close,
  size: binding.openCount,
  start: binding.start,
  feed: binding.feed,
  takeRequest: binding.takeRequest,
  takeError: binding.takeError,
  endOfInput: binding.endOfInput,
  pollTimeout: binding.pollTimeout,
  handleTimeout: binding.handleTimeout,
  takeTransmit: binding.takeTransmit,
  request: binding.request,
  negative: binding.negative,
  retarget: binding.retarget,
  accept: binding.accept,
  reject: binding.reject,
  retargetTo: binding.retargetTo,
  frameBatch: binding.frameBatch,
  messageHeader: binding.messageHeader,
};

module.exports = {
  table,
  checkName: binding.checkName,
  checkConfig: binding.checkConfig,
  negativeReasons: binding.negativeReasons,
  // open()'s roles.
  ROLE_CALLED: 0,
  ROLE_DIRECT: 1,
  // Room for any control frame the core writes into an output buffer.
  MAX_CONTROL_FRAME: binding.MAX_CONTROL_FRAME,
  // Room for any answer to a request (accept, reject, retarget).
  MAX_ANSWER_FRAME: binding.MAX_ANSWER_FRAME,
  // Layout of the events array: [offset reached, count, then kind, a, b per event].
  PREFIX: 2,
  EVENT_WORDS: 3,
  MESSAGE: 1,
  MESSAGE_FIRST: 2,
  MESSAGE_MORE: 3,
  MESSAGE_LAST: 4,
  KEEP_ALIVE: 5,
  REQUEST: 6,
  POSITIVE: 7,
  NEGATIVE: 8,
  RETARGET: 9,
  PROTOCOL_ERROR: 10,
};
