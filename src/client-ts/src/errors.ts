/** Codes of the errors the client raises itself (the server's codes are listed in docs/protocol.md). */
export type ClientErrorCode =
  /** No reply arrived within the request's timeout. */
  | "timeout"
  /** The connection ended while the request was waiting for its reply. */
  | "disconnected"
  /** `close()` was called, or the client gave up reconnecting, before the message could go. */
  | "closed"
  /** The client is neither connected nor (re)connecting: call `connect()` first. */
  | "not_connected"
  /** The client is (re)connecting and its outbox is full. */
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
