namespace WebSockets.Internal;

/// <summary>
/// The error codes of error notices (<c>{"event":"error","data":{"code":…,"message":…}}</c>) and error replies.
/// docs/protocol.md lists them; the connection stays open after each.
/// </summary>
internal static class ErrorNotice
{
    public const string BadJson = "bad_json";
    public const string BadData = "bad_data";
    public const string BadMessage = "bad_message";
    public const string BinaryNotSupported = "binary_not_supported";
    public const string HandlerFailed = "handler_failed";
    public const string UnknownEvent = "unknown_event";
    public const string UnknownReply = "unknown_reply";
    public const string DuplicateId = "duplicate_id";
    public const string ConnectionClosed = "connection_closed";
    public const string Busy = "busy";
    public const string Forbidden = "forbidden";
    public const string Unauthorized = "unauthorized";
    public const string RateLimited = "rate_limited";
    public const string TooManyRequests = "too_many_requests";
    public const string HandlerTimeout = "handler_timeout";
}
