/** Codes of the errors the client raises itself (the server's codes are listed in docs/protocol.md). */
export type ClientErrorCode =
  /** No reply arrived within the request's timeout. */
  | "timeout"
  /** The connection ended after the request was sent, before its reply arrived. */
  | "connection_closed"
  /** `close()` was called while the request or message was pending, or before `connect()` could connect. */
  | "stopped"
  /** The client gave up reconnecting (`maxRetries`) or reconnection is off, and no connection is coming. */
  | "not_connected"
  /** `connect()` failed: the client gave up after `maxRetries` retries, or the only attempt failed with `reconnect: false`. */
  | "connect_failed"
  /** The client is not connected and its outbox is full. */
  | "outbox_full"
  /** The message waited in the outbox longer than its time to live and was dropped. */
  | "expired";

/**
 * The error of a failed request or send. `source` tells who failed it: `"server"` for an error reply (its
 * `code` is the server's, e.g. `unknown_event`, `forbidden`, `bad_data` or an application code), `"client"`
 * for a {@link ClientErrorCode}.
 */
export class SocketError extends Error {
  /** The error code: the server's, or a {@link ClientErrorCode}. */
  readonly code: string;
  /** Who raised the error. */
  readonly source: "server" | "client";
  /** The event of the request or message that failed, when known. */
  readonly event: string | undefined;

  constructor(code: string, message: string, source: "server" | "client" = "client", event?: string) {
    super(message);
    this.name = "SocketError";
    this.code = code;
    this.source = source;
    this.event = event;
  }
}
