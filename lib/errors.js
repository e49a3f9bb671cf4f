'use strict';
// One place that builds every error the package reports, each with a stable
// `code`. Socket errors are passed through untouched with their own codes;
// a session's failure comes from the core (its text and details) and gets
// the code of its kind here.

const codes = Object.freeze({
  PROTOCOL: 'ERR_NETBIOS_PROTOCOL',
  REJECTED: 'ERR_NETBIOS_REJECTED',
  MESSAGE_TOO_LONG: 'ERR_NETBIOS_MESSAGE_TOO_LONG',
  NOT_CONNECTED: 'ERR_NETBIOS_NOT_CONNECTED',
  ALREADY_ACTIVE: 'ERR_NETBIOS_ALREADY_ACTIVE',
  RETARGET_LOOP: 'ERR_NETBIOS_RETARGET_LOOP',
  TIMEOUT: 'ERR_NETBIOS_TIMEOUT',
  ADDON: 'ERR_NETBIOS_ADDON',
  INVALID_ARG_TYPE: 'ERR_INVALID_ARG_TYPE',
  INVALID_ARG_VALUE: 'ERR_INVALID_ARG_VALUE',
  OUT_OF_RANGE: 'ERR_OUT_OF_RANGE',
});

// The core's error kinds (src/convert.rs error_kind) and their codes.
const CODE_BY_KIND = new Map([
  ['protocol', codes.PROTOCOL],
  ['rejected', codes.REJECTED],
  ['retarget-loop', codes.RETARGET_LOOP],
  ['timeout', codes.TIMEOUT],
]);

/** Builds an error of class `Kind` (Error by default) with `code` and extra properties. */
function netbiosError(code, message, properties, Kind = Error) {
  const error = new Kind(message);
  error.code = code;
  if (properties) Object.assign(error, properties);
  return error;
}

/** The Error for a session failure the core reported (the binding's takeError()). */
function sessionError({ kind, message, responseCode, reason, host, port }) {
  const code = CODE_BY_KIND.get(kind);
  if (code === undefined) throw new Error(`netbios-session internal error: unknown error kind ${kind}`);
  // 0.1.6's names for a refusal's details.
  if (responseCode !== undefined && responseCode !== null) return netbiosError(code, message, { errorCode: responseCode, reason });
  if (host !== undefined && host !== null) return netbiosError(code, message, { host, port });
  return netbiosError(code, message);
}

module.exports = { codes, netbiosError, sessionError };
