using Microsoft.Extensions.Logging;

namespace WebSockets.Redis.Internal;

// Event IDs are stable and never reused: the Redis package uses 200-249.

internal sealed partial class RedisClient
{
    private static partial class Log
    {
        [LoggerMessage(200, LogLevel.Information, "Connected to Redis at {Endpoint} ({Role} connection).", EventName = "RedisConnected")]
        public static partial void Connected(ILogger logger, string role, string endpoint);

        [LoggerMessage(201, LogLevel.Debug, "Connecting to Redis at {Endpoint} ({Role} connection) failed; trying again.", EventName = "RedisConnectFailed")]
        public static partial void ConnectAttemptFailed(ILogger logger, string role, string endpoint, Exception? exception);
    }
}

internal sealed partial class RedisSocketBackplane
{
    private static partial class Log
    {
        [LoggerMessage(202, LogLevel.Warning, "Lost the {Role} connection to Redis; until it is back, messages to other servers are lost and counted, and local delivery goes on.", EventName = "RedisConnectionLost")]
        public static partial void ConnectionLost(ILogger logger, string role, Exception? exception);

        [LoggerMessage(203, LogLevel.Warning, "Redis at {Endpoint} could not be reached within {Timeout} at start-up; the server starts alone and keeps trying to connect.", EventName = "RedisNotReachableAtStart")]
        public static partial void NotReachableAtStart(ILogger logger, string endpoint, TimeSpan timeout);

        [LoggerMessage(204, LogLevel.Information, "The {Role} connection to Redis is back; {Lost} messages to other servers were lost while it was down.", EventName = "RedisConnectionRestored")]
        public static partial void ConnectionRestored(ILogger logger, string role, long lost);

        [LoggerMessage(205, LogLevel.Debug, "Publishing a {Length}-byte message to the other servers failed; they won't get it.", EventName = "PublishFailed")]
        public static partial void PublishFailed(ILogger logger, int length, Exception? exception);

        [LoggerMessage(206, LogLevel.Warning, "Messages to other servers are being lost: Redis is unreachable. Each is counted in websockets.backplane.publish_errors.", EventName = "PublishesLost")]
        public static partial void PublishesLost(ILogger logger);

        [LoggerMessage(207, LogLevel.Debug, "Writing presence to Redis failed; it will be written again in full.", EventName = "PresenceWriteFailed")]
        public static partial void PresenceWriteFailed(ILogger logger, Exception exception);

        [LoggerMessage(208, LogLevel.Information, "Wrote this server's presence to Redis in full: {Count} connections.", EventName = "PresenceResynced")]
        public static partial void PresenceResynced(ILogger logger, int count);

        [LoggerMessage(209, LogLevel.Warning, "Writing this server's presence to Redis in full failed; it is tried again on the next heartbeat.", EventName = "PresenceResyncFailed")]
        public static partial void PresenceResyncFailed(ILogger logger, Exception exception);

        [LoggerMessage(210, LogLevel.Warning, "This server's presence was missing from Redis (it expired, or Redis lost its data); writing it again.", EventName = "PresenceMissing")]
        public static partial void PresenceMissing(ILogger logger);

        [LoggerMessage(211, LogLevel.Warning, "The heartbeat to Redis failed.", EventName = "HeartbeatFailed")]
        public static partial void HeartbeatFailed(ILogger logger, Exception exception);

        [LoggerMessage(212, LogLevel.Information, "Removed the presence of servers whose heartbeat expired: {ServerIds}.", EventName = "DeadServersRemoved")]
        public static partial void DeadServersRemoved(ILogger logger, string serverIds);

        [LoggerMessage(213, LogLevel.Warning, "Dropped a {Length}-byte message on the Redis channel that is not a backplane message.", EventName = "BadEnvelope")]
        public static partial void BadEnvelope(ILogger logger, int length);

        [LoggerMessage(214, LogLevel.Debug, "A presence query could not read every server's part: missing {ServerIds}.", EventName = "QueryIncomplete")]
        public static partial void QueryIncomplete(ILogger logger, string serverIds, Exception? exception);

        [LoggerMessage(215, LogLevel.Warning, "Removing this server's presence from Redis at stop failed; it expires with its heartbeat.", EventName = "StopFailed")]
        public static partial void StopFailed(ILogger logger, Exception exception);

        [LoggerMessage(216, LogLevel.Warning, "The heartbeat to Redis got no answer within {Timeout}; dropping the connection to make a new one.", EventName = "HeartbeatTimedOut")]
        public static partial void HeartbeatTimedOut(ILogger logger, TimeSpan timeout);

        [LoggerMessage(217, LogLevel.Warning, "The subscriber connection to Redis did not answer a PING within {Timeout}; dropping it to connect and subscribe again.", EventName = "SubscriberPingTimedOut")]
        public static partial void SubscriberPingTimedOut(ILogger logger, TimeSpan timeout);

        [LoggerMessage(218, LogLevel.Debug, "The PING of the subscriber connection to Redis failed.", EventName = "SubscriberPingFailed")]
        public static partial void SubscriberPingFailed(ILogger logger, Exception exception);
    }
}
