'use strict';
// Loads the addon built by scripts/build.js, opens this thread's session
// table and names the event kinds that table.feed() writes (the same numbers
// as src/lib.rs).

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

module.exports = {
  // Every session's native state, addressed by the id open()/openCall() return.
  table: new binding.SessionTable(),
  checkName: binding.checkName,
  checkConfig: binding.checkConfig,
  negativeReasons: binding.negativeReasons,
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
