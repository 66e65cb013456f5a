using Microsoft.Extensions.Diagnostics.HealthChecks;
using WebSockets;
using WebSockets.Redis.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Adds the health of the Redis backplane to the app's health checks.
/// </summary>
public static class RedisBackplaneHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds a health check of the Redis backplane from <c>AddSocketRegistry().AddRedisBackplane(…)</c>.
    /// <list type="bullet">
    /// <item><paramref name="failureStatus"/> (Unhealthy by default) when messages between servers are being lost: the
    /// backplane has not started or has stopped, the command or subscriber connection to Redis is down, or no heartbeat
    /// was answered within <c>PresenceTtl</c> (the other servers no longer see this server's connections).</item>
    /// <item>Degraded while it works but lags: no heartbeat answered for two <c>HeartbeatInterval</c>s, the presence not
    /// written yet, or a PING of the subscriber connection (which queues behind the messages it receives) that took
    /// longer than <c>HeartbeatInterval</c>.</item>
    /// <item>Healthy otherwise.</item>
    /// </list>
    /// The result's data holds <c>endpoint</c>, <c>connected</c>, <c>subscribed</c>, <c>other_servers</c>,
    /// <c>lost_messages</c> (publishes lost in the current outage), <c>heartbeat_age_ms</c> and <c>subscriber_ping_ms</c>.
    /// </summary>
    /// <param name="builder">The builder from <c>services.AddHealthChecks()</c>.</param>
    /// <param name="name">The name of the check. The default is <c>"websockets-redis"</c>.</param>
    /// <param name="failureStatus">The status reported when messages are being lost. The default, <see langword="null"/>, is <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">Tags to filter checks by, for example <c>"ready"</c>. The default is none.</param>
    /// <returns>The health checks builder.</returns>
    public static IHealthChecksBuilder AddRedisBackplane(this IHealthChecksBuilder builder, string name = "websockets-redis", HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        return builder.Add(new HealthCheckRegistration(
            name,
            static services => new RedisBackplaneHealthCheck(services.GetService<SocketBackplane>()
                ?? throw new InvalidOperationException("The Redis backplane health check needs the backplane: call services.AddSocketRegistry().AddRedisBackplane(…) as well.")),
            failureStatus,
            tags));
    }
}
