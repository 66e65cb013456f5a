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
}
