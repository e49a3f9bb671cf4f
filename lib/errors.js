'use strict';
// One place that builds every error the package reports, each with a stable
// `code`. Socket errors are passed through untouched with their own codes.

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

/** Builds an error of class `Kind` (Error by default) with `code` and extra properties. */
function netbiosError(code, message, properties, Kind = Error) {
  const error = new Kind(message);
  error.code = code;
  if (properties) Object.assign(error, properties);
  return error;
}

module.exports = { codes, netbiosError };
