using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace WebSockets.Redis.Internal;

/// <summary>
/// The Redis backplane's health. Unhealthy (the registration's failure status) when messages to or from other servers
/// are being lost: no command connection, no subscription, or no heartbeat answered within the presence TTL (this
/// server's presence has expired for the others). Degraded when it still works but lags: no heartbeat answered for
/// two heartbeat intervals, or a subscriber PING that took longer than a heartbeat interval (messages from other servers
/// queue behind it). Healthy otherwise.
/// </summary>
internal sealed class RedisBackplaneHealthCheck(SocketBackplane backplane) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (backplane is not RedisSocketBackplane redis)
        {
            return Task.FromResult(new HealthCheckResult(
                context.Registration.FailureStatus,
                $"The backplane is {backplane.GetType().Name}, not Redis: call AddSocketRegistry().AddRedisBackplane(…) to use the Redis backplane."));
        }

        var health = redis.GetHealth();
        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["endpoint"] = health.Endpoint ?? string.Empty,
            ["connected"] = health.Connected,
            ["subscribed"] = health.Subscribed,
            ["other_servers"] = health.OtherServers,
            ["lost_messages"] = health.LostInOutage,
        };
        if (health.HeartbeatAge is { } age)
        {
            data["heartbeat_age_ms"] = (long)age.TotalMilliseconds;
        }

        if (health.SubscriberPing is { } ping)
        {
            data["subscriber_ping_ms"] = ping.TotalMilliseconds;
        }

        var failure = context.Registration.FailureStatus;
        var result = health switch
        {
            { Started: false } => new HealthCheckResult(failure, "The Redis backplane has not started yet.", data: data),
            { Stopped: true } => new HealthCheckResult(failure, "The Redis backplane has stopped.", data: data),
            { Connected: false } => new HealthCheckResult(failure, $"No connection to Redis at {health.Endpoint}: messages to other servers are lost until it is back.", data: data),
            { Subscribed: false } => new HealthCheckResult(failure, $"Not subscribed at Redis at {health.Endpoint}: messages from other servers are lost until it is back.", data: data),
            { HeartbeatAge: null } => new HealthCheckResult(HealthStatus.Degraded, "Connected to Redis; this server's presence is not written yet.", data: data),
            { HeartbeatAge: { } a } when a > health.PresenceTtl => new HealthCheckResult(failure, $"No heartbeat answered by Redis for {a.TotalSeconds:0.#} s, longer than the presence TTL: the other servers no longer see this server's connections.", data: data),
            { HeartbeatAge: { } a } when a > 2 * health.HeartbeatInterval => HealthCheckResult.Degraded($"No heartbeat answered by Redis for {a.TotalSeconds:0.#} s.", data: data),
            { SubscriberPing: { } p } when p > health.HeartbeatInterval => HealthCheckResult.Degraded($"The subscriber connection lags: its last PING took {p.TotalMilliseconds:0} ms.", data: data),
            _ => HealthCheckResult.Healthy($"Connected and subscribed to Redis at {health.Endpoint}.", data),
        };
        return Task.FromResult(result);
    }
}
