'use strict';
// The constructor's options: type and range checks with the errors they
// throw, defaults, the timing and call settings sessions share, and the
// core's check of the framing options (remembered once accepted).

const native = require('./native');
const { toName } = require('./name');
const { codes, netbiosError } = require('./errors');

// The limits and defaults are the core's (see its session.rs and call.rs).
const { MAX_MESSAGE_LENGTH, MAX_WIDE_MESSAGE_LENGTH } = native;
// Longest delay setTimeout takes.
const MAX_DURATION = 2147483647;

const DEFAULTS = Object.freeze({
  timeout: native.DEFAULT_TIMEOUT,
  requestTimeout: native.DEFAULT_REQUEST_TIMEOUT,
  idleTimeout: 0,
  keepAlive: 0,
  maxRetargets: native.DEFAULT_MAX_RETARGETS,
});

function checkOptions(options) {
  if (options == null) return {};
  if (typeof options !== 'object') {
    throw netbiosError(codes.INVALID_ARG_TYPE, `options must be an object, got ${typeof options}`, null, TypeError);
  }
  return options;
}

function invalidType(name, value, expected) {
  let got = typeof value;
  if (value === null) got = 'null';
  else if (Array.isArray(value)) got = 'an array';
  else if (typeof value === 'string') got = `string ${JSON.stringify(value)}`;
  else if (typeof value !== 'object' && typeof value !== 'function') got = `${typeof value} ${String(value)}`;
  return netbiosError(codes.INVALID_ARG_TYPE, `The "${name}" option must be ${expected}, got ${got}`, null, TypeError);
}

/** A true/false option; missing (undefined or null) means `fallback`. */
function resolveBoolean(options, name, fallback) {
  const value = options[name];
  if (value == null) return fallback;
  if (typeof value !== 'boolean') throw invalidType(name, value, 'true or false');
  return value;
}

function outOfRange(name, value, range) {
  return netbiosError(codes.OUT_OF_RANGE, `${name} must be ${range}, got ${String(value)}`, null, RangeError);
}

function resolveMaxMessageLength(options, direct) {
  const value = options.maxMessageLength;
  if (value == null) return direct ? MAX_WIDE_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
  if (typeof value !== 'number') throw invalidType('maxMessageLength', value, 'a number');
  if (!Number.isInteger(value) || value < 0 || value > MAX_WIDE_MESSAGE_LENGTH) {
    throw outOfRange('maxMessageLength', value, `an integer from 0 to ${MAX_WIDE_MESSAGE_LENGTH}`);
  }
  return value;
}

/** A duration option in milliseconds; 0 turns it off. */
function resolveDuration(options, name) {
  const value = options[name] == null ? DEFAULTS[name] : options[name];
  if (typeof value !== 'number') throw invalidType(name, value, 'a number of milliseconds');
  if (!Number.isInteger(value) || value < 0 || value > MAX_DURATION) {
    throw outOfRange(name, value, `a whole number of milliseconds from 0 (off) to ${MAX_DURATION}`);
  }
  return value;
}

function resolveMaxRetargets(options) {
  const value = options.maxRetargets == null ? DEFAULTS.maxRetargets : options.maxRetargets;
  if (typeof value !== 'number') throw invalidType('maxRetargets', value, 'a number');
  if (!Number.isInteger(value) || value < 0 || value > 255) {
    throw outOfRange('maxRetargets', value, 'an integer from 0 to 255');
  }
  return value;
}

/** The fallback names as the flat [name, suffix, scope, ...] list openCall takes, or undefined for none. */
function resolveFallbacks(options) {
  const value = options.calledNameFallback;
  if (value == null || (Array.isArray(value) && value.length === 0)) return undefined;
  if (!Array.isArray(value)) throw invalidType('calledNameFallback', value, 'an array of names');
  return Object.freeze(value.flatMap((name, i) => nameParts(toName(name, native.DEFAULT_CALLED_SUFFIX, `calledNameFallback[${i}]`))));
}

/** Every option, resolved and checked, in this order: the first bad option is the one reported. */
function settingsFrom(options) {
  const direct = resolveBoolean(options, 'direct', false);
  const legacyLengthBit = resolveBoolean(options, 'legacyLengthBit', false);
  const maxMessageLength = resolveMaxMessageLength(options, direct);
  checkConfig(direct, legacyLengthBit, maxMessageLength);
  return {
    direct,
    legacyLengthBit,
    maxMessageLength,
    autoAccept: resolveBoolean(options, 'autoAccept', false),
    noDelay: resolveBoolean(options, 'noDelay', true),
    paused: resolveBoolean(options, 'paused', false),
    timeout: resolveDuration(options, 'timeout'),
    requestTimeout: resolveDuration(options, 'requestTimeout'),
    idleTimeout: resolveDuration(options, 'idleTimeout'),
    keepAlive: resolveDuration(options, 'keepAlive'),
    maxRetargets: resolveMaxRetargets(options),
    fallbacks: resolveFallbacks(options),
  };
}

// Resolved settings, shared by the sessions made with the same options: a
// server makes a session per connection with the same few options, and an
// idle session then holds one reference instead of a dozen fields.
const sharedSettings = new Map();
const MAX_SHARED_SETTINGS = 64;

/** The resolved options: a frozen object shared by sessions whose options resolve alike. */
function resolveSettings(options) {
  // Most sessions set only some of the boolean options (a server's
  // autoAccept, say), or none: named reads (each its own inline cache) find
  // them, and a number made of their bits finds their settings, resolved once.
  if (
    options.maxMessageLength == null &&
    options.timeout == null &&
    options.requestTimeout == null &&
    options.idleTimeout == null &&
    options.keepAlive == null &&
    options.maxRetargets == null &&
    options.calledNameFallback == null
  ) {
    const bits =
      flag(options.direct, 1) |
      flag(options.legacyLengthBit, 2) |
      flag(options.autoAccept, 4) |
      flag(options.noDelay, 8) |
      flag(options.paused, 16);
    if (bits >= 0) {
      let settings = byFlags.get(bits);
      if (settings === undefined) byFlags.set(bits, (settings = Object.freeze(settingsFrom(options))));
      return settings;
    }
  }
  const settings = settingsFrom(options);
  const s = settings;
  // prettier-ignore
  const key = `${s.direct} ${s.legacyLengthBit} ${s.maxMessageLength} ${s.autoAccept} ${s.noDelay} ${s.paused} ${s.timeout} ${s.requestTimeout} ${s.idleTimeout} ${s.keepAlive} ${s.maxRetargets} ${s.fallbacks}`;
  const shared = sharedSettings.get(key);
  if (shared !== undefined) return shared;
  Object.freeze(settings);
  if (sharedSettings.size < MAX_SHARED_SETTINGS) sharedSettings.set(key, settings);
  return settings;
}

// Settings of sessions whose options are booleans only, by flag() bits.
const byFlags = new Map();

/**
 * Bits for a boolean option: 0 for missing, `bit` for true, `bit << 5` for
 * false (so that false and missing differ), -1 for anything else, which
 * makes the sum negative and sends the options the slow way (and its error).
 */
function flag(value, bit) {
  if (value == null) return 0;
  if (value === true) return bit;
  if (value === false) return bit << 5;
  return -1 << 30;
}

// Configurations the core accepted. Its check is pure, and a server makes a
// session per connection with the same few options: no native call each.
const acceptedConfigs = new Set();

/** Throws a TypeError if the core rejects the combination of options. */
function checkConfig(direct, legacyLengthBit, max) {
  const key = max * 4 + (direct ? 2 : 0) + (legacyLengthBit ? 1 : 0);
  if (acceptedConfigs.has(key)) return;
  try {
    native.checkConfig(direct, legacyLengthBit, max);
  } catch (cause) {
    throw netbiosError(codes.INVALID_ARG_VALUE, cause.message, null, TypeError);
  }
  if (acceptedConfigs.size < 64) acceptedConfigs.add(key);
}

/** A name as the (name, suffix, scope) arguments the binding takes. */
function nameParts(name) {
  return [name.name, name.suffix, name.scopeId];
}

module.exports = {
  MAX_MESSAGE_LENGTH,
  checkOptions,
  resolveSettings,
  outOfRange,
};
