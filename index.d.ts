/// <reference types="node" />
import { EventEmitter } from 'events';
import { Duplex } from 'stream';

declare namespace NetbiosSession {
  /** Options for `new NetbiosName()`: `{name, suffix, scopeId}` or `{fqdn, suffix}`. */
  interface NetbiosNameOptions {
    /** 1 to 15 characters, each one byte (Latin-1); padded with spaces on the wire. */
    name?: string;
    /** Service type byte, 0 to 255 (default 0x00). */
    suffix?: number;
    /** Dot-separated scope ID; '' or missing for none. */
    scopeId?: string | null;
    /** `NAME.scope`: the scope follows the first dot. Used when `name` is missing. */
    fqdn?: string;
  }

  /** A NetBIOS name, shaped like the netbios-name 0.2.0 package's objects. */
  class NetbiosName {
    /** An options object, or a string such as `DST`, `DST.scope`, `DST<20>` or `DST<20>.scope`. */
    constructor(options: NetbiosNameOptions | string);
    /** The name without padding, case kept. */
    name: string;
    suffix: number;
    /** '' when there is no scope. */
    scopeId: string;
    /** `name` or `name.scopeId`. */
    fqdn: string;
    /** What the suffix means (Microsoft KB 163409), or 'Unknown'. */
    usage: string;
    /** `NAME<20>` or `NAME<20>.scope`. */
    toString(): string;
  }

  /** Anything connect() accepts as a name: our class, a netbios-name object, or a string. */
  type NameInput =
    | NetbiosName
    | { name: string; suffix?: number; scopeId?: string | null; error?: Error | null }
    | { fqdn: string; suffix?: number; error?: Error | null }
    | string;

  interface SessionOptions {
    /** With no attach() callback: accept every request (true) or reject with 0x80 (false). Default false. */
    autoAccept?: boolean | null;
    /** SMB direct TCP (port 445): no handshake, 24-bit lengths. Default false. */
    direct?: boolean | null;
    /** Start paused: negotiation completes, messages wait for resume(). Default false. */
    paused?: boolean | null;
    /** Speak netbios-session 0.1.6's length bit (0x80) to unupgraded 0.1.6 peers. Default false. */
    legacyLengthBit?: boolean | null;
    /**
     * Largest message accepted or sent (0 to 16777215). Default 131071, or 16777215 in direct mode.
     * Above 131071 in NetBIOS mode, established messages use 24-bit lengths both ways.
     */
    maxMessageLength?: number | null;
    /** Set TCP_NODELAY on the socket. Default true. */
    noDelay?: boolean | null;
    /**
     * Caller: milliseconds for the whole setup (DNS, TCP connect, every retarget hop and
     * fallback, the response). Default 20000; 0 turns it off.
     */
    timeout?: number | null;
    /** Called node: milliseconds from attach() until a complete SESSION REQUEST. Default 30000; 0 turns it off. */
    requestTimeout?: number | null;
    /** Established: fail when no frame arrives for this many milliseconds. Default 0 (off). */
    idleTimeout?: number | null;
    /** Established: send a SESSION KEEP ALIVE after this many milliseconds without sending. Default 0 (off). */
    keepAlive?: number | null;
    /** Caller: how many RETARGET responses to follow (0 to 255). Default 4 (RFC 1002's SSN_RETRY_COUNT). */
    maxRetargets?: number | null;
    /** Caller: names to try, in order, after a NEGATIVE response 0x80 or 0x82, e.g. ['*SMBSERVER']. */
    calledNameFallback?: NameInput[] | null;
  }

  /** The five NEGATIVE SESSION RESPONSE reasons of RFC 1002. */
  type RejectReason =
    | 'Not listening on called name'
    | 'Not listening for calling name'
    | 'Called name not present'
    | 'Called name present, but insufficient resources'
    | 'Unspecified error';

  /** Handed to attach()'s callback; answer it once with accept() or reject(). */
  interface SessionRequest {
    readonly callTo: NetbiosName;
    readonly callFrom: NetbiosName;
    /** Establishes the session; null once the request is answered. */
    accept: (() => void) | null;
    /**
     * Refuses with a reason text (or its numeric code); unknown or missing means
     * 'Unspecified error'. The socket is ended once the response is flushed.
     * Null once the request is answered.
     */
    reject: ((reason?: RejectReason | number | null) => void) | null;
    /**
     * Sends a RETARGET response telling the caller to call `host` (an IPv4 dotted quad)
     * on `port` (1 to 65535) instead, then closes once it is flushed. Throws a TypeError
     * or RangeError, sending nothing, for anything else. Null once the request is answered.
     */
    retarget: ((host: string, port: number) => void) | null;
  }

  /** Where a RETARGET response sent the caller. */
  interface RetargetTarget {
    host: string;
    port: number;
  }

  type ErrorCode =
    | 'ERR_NETBIOS_PROTOCOL'
    | 'ERR_NETBIOS_REJECTED'
    | 'ERR_NETBIOS_MESSAGE_TOO_LONG'
    | 'ERR_NETBIOS_NOT_CONNECTED'
    | 'ERR_NETBIOS_ALREADY_ACTIVE'
    | 'ERR_NETBIOS_RETARGET_LOOP'
    | 'ERR_NETBIOS_TIMEOUT'
    | 'ERR_NETBIOS_ADDON'
    | 'ERR_INVALID_ARG_TYPE'
    | 'ERR_INVALID_ARG_VALUE'
    | 'ERR_OUT_OF_RANGE';

  /** Errors reported by the package; socket errors arrive as they are (e.g. code 'ECONNREFUSED'). */
  interface NetbiosError extends Error {
    code: ErrorCode | string;
    /** ERR_NETBIOS_REJECTED: the NEGATIVE SESSION RESPONSE code. */
    errorCode?: number;
    /** ERR_NETBIOS_REJECTED: RFC 1002's text for errorCode, or 'unknown error'. */
    reason?: string;
    /** ERR_NETBIOS_RETARGET_LOOP: where the retarget past the bound pointed. */
    host?: string;
    port?: number;
    /** ERR_NETBIOS_ADDON: each place the loader tried, and why it failed. */
    tried?: Array<{ place: string; why: string }>;
  }

  type AttachCallback = (error: NetbiosError | null, request?: SessionRequest) => void;
  type ConnectCallback = (error?: NetbiosError | null) => void;
  type WriteCallback = (error?: Error | null) => void;
}

/** One NetBIOS session (or one SMB direct-TCP connection) over a duplex stream. */
declare class NetbiosSession extends EventEmitter {
  /** 131071: the largest NetBIOS message (17-bit length). */
  static readonly MAX_MESSAGE_LENGTH: 131071;
  static readonly NetbiosSession: typeof NetbiosSession;

  constructor(options?: NetbiosSession.SessionOptions | null);

  /** This session's effective message limit (maxMessageLength; 16777215 by default in direct mode). */
  readonly MAX_MESSAGE_LENGTH: number;

  /** The error that ended the session (null while it runs or after a clean end), as on Node's streams. */
  readonly errored: NetbiosSession.NetbiosError | null;

  /** Takes over a connected duplex stream and waits for a SESSION REQUEST (or, in direct mode, is established at once). */
  attach(socket: Duplex, callback?: NetbiosSession.AttachCallback | null): this;

  /** Connects to host:port (139 if port is not a number) and requests a session with callTo from callFrom. */
  connect(
    port: number | null | undefined,
    host: string,
    callTo: NetbiosSession.NameInput,
    callFrom: NetbiosSession.NameInput,
    callback?: NetbiosSession.ConnectCallback | null
  ): this;
  /** Direct mode: no names. */
  connect(port: number | null | undefined, host: string, callback?: NetbiosSession.ConnectCallback | null): this;

  /** Sends one SESSION MESSAGE. Returns false when the caller should wait for 'drain'. */
  write(message: Uint8Array | string, callback?: NetbiosSession.WriteCallback | null): boolean;

  /** Stops 'message' events and reading from the socket. */
  pause(): this;
  /** Delivers held messages in order, then reads again. */
  resume(): this;
  /** Ends the session: FIN after pending writes; 'close' follows once the peer closes. Idempotent. */
  end(): this;
  /** Tears the session down at once; `error`, if given, is reported before 'close'. */
  destroy(error?: Error | null): this;

  on(event: 'connect', listener: () => void): this;
  on(event: 'message', listener: (message: Buffer) => void): this;
  on(event: 'drain', listener: () => void): this;
  on(event: 'end', listener: () => void): this;
  on(event: 'close', listener: () => void): this;
  on(event: 'retarget', listener: (target: NetbiosSession.RetargetTarget) => void): this;
  on(event: 'fallback', listener: (name: NetbiosSession.NetbiosName) => void): this;
  on(event: 'error', listener: (error: NetbiosSession.NetbiosError) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;

  once(event: 'connect', listener: () => void): this;
  once(event: 'message', listener: (message: Buffer) => void): this;
  once(event: 'drain', listener: () => void): this;
  once(event: 'end', listener: () => void): this;
  once(event: 'close', listener: () => void): this;
  once(event: 'retarget', listener: (target: NetbiosSession.RetargetTarget) => void): this;
  once(event: 'fallback', listener: (name: NetbiosSession.NetbiosName) => void): this;
  once(event: 'error', listener: (error: NetbiosSession.NetbiosError) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

export = NetbiosSession;
