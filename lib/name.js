'use strict';
// NetBIOS names as JS objects shaped like the netbios-name 0.2.0 package's,
// so objects of either kind work wherever the other is expected. Encoding
// and its limits live in the Rust core; this file only shapes values.

const native = require('./native');
const { codes, netbiosError } = require('./errors');

// Suffix meanings from Microsoft KB 163409 ("NetBIOS Suffixes").
const USAGE = new Map([
  [0x00, 'Workstation Service'],
  [0x01, 'Messenger Service'],
  [0x03, 'Messenger Service'],
  [0x06, 'RAS Server Service'],
  [0x1b, 'Domain Master Browser'],
  [0x1c, 'Domain Controllers'],
  [0x1d, 'Master Browser'],
  [0x1e, 'Browser Service Elections'],
  [0x1f, 'NetDDE Service'],
  [0x20, 'File Server Service'],
  [0x21, 'RAS Client Service'],
  [0x22, 'Microsoft Exchange Interchange'],
  [0x23, 'Microsoft Exchange Store'],
  [0x24, 'Microsoft Exchange Directory'],
  [0x2b, 'Lotus Notes Server Service'],
  [0x2f, 'Lotus Notes'],
  [0x30, 'Modem Sharing Server Service'],
  [0x31, 'Modem Sharing Client Service'],
  [0x33, 'Lotus Notes'],
  [0x42, 'McAfee Anti-Virus'],
  [0x43, 'SMS Clients Remote Control'],
  [0x44, 'SMS Administrators Remote Control Tool'],
  [0x45, 'SMS Clients Remote Chat'],
  [0x46, 'SMS Clients Remote Transfer'],
  [0x4c, 'DEC Pathworks TCPIP Service on Windows NT'],
  [0x52, 'DEC Pathworks TCPIP Service on Windows NT'],
  [0x6a, 'Microsoft Exchange IMC'],
  [0x87, 'Microsoft Exchange MTA'],
  [0xbe, 'Network Monitor Agent'],
  [0xbf, 'Network Monitor Application'],
]);

// `NAME`, `NAME.scope`, `NAME<20>` or `NAME<20>.scope`, as toString() prints.
const NOTATION = /^([^<]*)<([0-9a-fA-F]{2})>(?:\.(.*))?$/;

function invalid(message) {
  return netbiosError(codes.INVALID_ARG_VALUE, message, null, TypeError);
}

function splitFqdn(fqdn) {
  const dot = fqdn.indexOf('.');
  return dot < 0 ? [fqdn, ''] : [fqdn.slice(0, dot), fqdn.slice(dot + 1)];
}

class NetbiosName {
  /**
   * @param {{name?: string, suffix?: number, scopeId?: string, fqdn?: string} | string} options
   *   `{name, suffix, scopeId}`, `{fqdn, suffix}` (the scope follows the first dot),
   *   or a string in toString() notation.
   */
  constructor(options) {
    let name;
    let suffix = 0x00;
    let scopeId = '';
    if (typeof options === 'string') {
      [name, suffix, scopeId] = parseNotation(options, suffix);
    } else if (options !== null && typeof options === 'object') {
      if (typeof options.name === 'string') {
        name = options.name;
        scopeId = options.scopeId == null ? '' : options.scopeId;
      } else if (typeof options.fqdn === 'string') {
        [name, scopeId] = splitFqdn(options.fqdn);
      } else {
        throw netbiosError(codes.INVALID_ARG_TYPE, 'NetbiosName needs a string `name` or `fqdn`', null, TypeError);
      }
      if (options.suffix != null) suffix = options.suffix;
    } else {
      throw netbiosError(
        codes.INVALID_ARG_TYPE,
        `NetbiosName needs an options object or a string, got ${describe(options)}`,
        null,
        TypeError
      );
    }
    if (typeof scopeId !== 'string') {
      throw netbiosError(codes.INVALID_ARG_TYPE, `scopeId must be a string, got ${describe(scopeId)}`, null, TypeError);
    }
    if (!Number.isInteger(suffix) || suffix < 0 || suffix > 0xff) {
      throw netbiosError(codes.OUT_OF_RANGE, `NetBIOS suffix must be an integer from 0 to 255, got ${describe(suffix)}`, null, RangeError);
    }
    if (name.length === 0) throw invalid('NetBIOS name is empty; expected 1 to 15 characters');
    try {
      native.checkName(name, suffix, scopeId);
    } catch (cause) {
      throw invalid(`Invalid NetBIOS name ${JSON.stringify(name)}: ${cause.message}`);
    }
    init(this, name, suffix, scopeId);
  }

  /** `NAME<20>` or `NAME<20>.scope`: Wireshark's notation, as netbios-name prints it. */
  toString() {
    const suffix = this.suffix.toString(16).padStart(2, '0');
    return `${this.name}<${suffix}>${this.scopeId ? `.${this.scopeId}` : ''}`;
  }
}

function init(target, name, suffix, scopeId) {
  target.name = name;
  target.suffix = suffix;
  target.scopeId = scopeId;
  target.fqdn = scopeId ? `${name}.${scopeId}` : name;
  target.usage = USAGE.get(suffix) || 'Unknown';
}

function parseNotation(text, defaultSuffix) {
  // Most names carry no <xx> suffix: they skip the regular expression.
  if (text.includes('<')) {
    const match = NOTATION.exec(text);
    if (match === null) {
      throw invalid(`Invalid NetBIOS name ${JSON.stringify(text)}: a suffix is written <xx>, two hex digits ` +
        'after the name and before any .scope, as in FILESERVER<20>');
    }
    return [match[1], parseInt(match[2], 16), match[3] || ''];
  }
  const [name, scopeId] = splitFqdn(text);
  return [name, defaultSuffix, scopeId];
}

function describe(value) {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object') return `an instance of ${(value.constructor && value.constructor.name) || 'Object'}`;
  return `${typeof value} ${String(value)}`;
}

/**
 * Names decoded from the wire (already valid, possibly empty: all padding),
 * from the binding's packed string: per name a character holding the
 * name's length, the name, the suffix, the scope's length, the scope.
 */
function unpackNames(packed) {
  const names = [];
  let at = 0;
  while (at < packed.length) {
    const nameEnd = at + 1 + packed.charCodeAt(at);
    const suffix = packed.charCodeAt(nameEnd);
    const scopeEnd = nameEnd + 2 + packed.charCodeAt(nameEnd + 1);
    const result = Object.create(NetbiosName.prototype);
    init(result, packed.slice(at + 1, nameEnd), suffix, packed.slice(nameEnd + 2, scopeEnd));
    names.push(result);
    at = scopeEnd;
  }
  return names;
}

/**
 * Accepts our NetbiosName, a netbios-name 0.2.0 object (or anything of that
 * shape) or a string; `defaultSuffix` applies when none is given.
 * Returns a NetbiosName or throws a TypeError saying what was wrong.
 */
function toName(value, defaultSuffix, argument) {
  if (value instanceof NetbiosName) return value;
  try {
    if (typeof value === 'string') {
      const [name, suffix, scopeId] = parseNotation(value, defaultSuffix);
      return new NetbiosName({ name, suffix, scopeId });
    }
    if (value !== null && typeof value === 'object') {
      // netbios-name reports a bad name through `.error` instead of throwing.
      if (value.error instanceof Error) throw invalid(value.error.message);
      const suffix = typeof value.suffix === 'number' ? value.suffix : defaultSuffix;
      if (typeof value.name === 'string') {
        return new NetbiosName({ name: value.name, suffix, scopeId: value.scopeId == null ? '' : value.scopeId });
      }
      if (typeof value.fqdn === 'string') return new NetbiosName({ fqdn: value.fqdn, suffix });
    }
  } catch (error) {
    error.message = `${argument}: ${error.message}`;
    throw error;
  }
  throw netbiosError(
    codes.INVALID_ARG_TYPE,
    `${argument} must be a NetbiosName, an object with a string \`name\` or \`fqdn\`, or a string; got ${describe(value)}`,
    null,
    TypeError
  );
}

/**
 * A name given to connect() as the (name, suffix, scopeId) the binding takes.
 * Strings and NetbiosName objects are only taken apart: the core checks the
 * name when the call opens, and connect() asks toName() for the precise
 * error if it refuses. Anything else goes through toName() at once.
 */
function nameArgs(value, defaultSuffix, argument) {
  if (typeof value === 'string') {
    let parts;
    try {
      parts = parseNotation(value, defaultSuffix);
    } catch (error) {
      error.message = `${argument}: ${error.message}`;
      throw error;
    }
    if (parts[0].length > 0) return parts;
  } else if (value instanceof NetbiosName) {
    return [value.name, value.suffix, value.scopeId];
  }
  const name = toName(value, defaultSuffix, argument);
  return [name.name, name.suffix, name.scopeId];
}

module.exports = { NetbiosName, toName, nameArgs, unpackNames };
