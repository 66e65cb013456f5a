using Microsoft.Extensions.Logging;

namespace WebSockets.Internal;

/// <summary>
/// Logs of the connection and message limits. Event IDs 100-119 are theirs (see Log.cs for the others); numbers are stable
/// and never reused.
/// </summary>
internal static partial class LimitsLog
{
    [LoggerMessage(100, LogLevel.Warning, "Refused a WebSocket upgrade: this server already holds its maximum of {MaxConnections} connections.", EventName = "ConnectionLimitReached")]
    public static partial void ConnectionLimitReached(ILogger logger, int maxConnections);

    [LoggerMessage(101, LogLevel.Debug, "Refused a WebSocket upgrade: user '{UserId}' already has {MaxConnections} connections.", EventName = "UserConnectionLimitReached")]
    public static partial void UserConnectionLimitReached(ILogger logger, string userId, int maxConnections);

    [LoggerMessage(102, LogLevel.Debug, "Refused a WebSocket upgrade: address {RemoteIpAddress} already has {MaxConnections} connections.", EventName = "IpConnectionLimitReached")]
    public static partial void IpConnectionLimitReached(ILogger logger, string remoteIpAddress, int maxConnections);

    [LoggerMessage(103, LogLevel.Debug, "Connection {ConnectionId} exceeded its message rate limit; the message was dropped.", EventName = "MessageRateLimited")]
    public static partial void MessageRateLimited(ILogger logger, string connectionId);

    [LoggerMessage(104, LogLevel.Debug, "Connection {ConnectionId} exceeded its message rate limit; closing it with 1008.", EventName = "RateLimitClose")]
    public static partial void RateLimitClose(ILogger logger, string connectionId);

    [LoggerMessage(105, LogLevel.Debug, "Connection {ConnectionId} already has {MaxPendingRequests} pending requests; refused request {RequestId} (event '{EventName}').", EventName = "TooManyRequests")]
    public static partial void TooManyRequests(ILogger logger, string connectionId, int maxPendingRequests, long requestId, string eventName);

    [LoggerMessage(106, LogLevel.Warning, "The handler of event '{EventName}' did not finish within {HandlerTimeout} for connection {ConnectionId}; it was canceled and the connection goes on.", EventName = "HandlerTimedOut")]
    public static partial void HandlerTimedOut(ILogger logger, string eventName, TimeSpan handlerTimeout, string connectionId);

    [LoggerMessage(108, LogLevel.Warning, "The message handler did not finish within {HandlerTimeout} for connection {ConnectionId}; it was canceled and the connection goes on.", EventName = "MessageHandlerTimedOut")]
    public static partial void MessageHandlerTimedOut(ILogger logger, TimeSpan handlerTimeout, string connectionId);

    [LoggerMessage(109, LogLevel.Warning, "Connection {ConnectionId} has more than {Max} handlers still running after their timeout; closing it.", EventName = "TooManyAbandonedHandlers")]
    public static partial void TooManyAbandonedHandlers(ILogger logger, string connectionId, int max);

    [LoggerMessage(107, LogLevel.Debug, "A handler of connection {ConnectionId} that timed out has failed since.", EventName = "AbandonedHandlerFailed")]
    public static partial void AbandonedHandlerFailed(ILogger logger, string connectionId, Exception exception);
}
