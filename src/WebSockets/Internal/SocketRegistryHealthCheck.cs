using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace WebSockets.Internal;

/// <summary>
/// The registry's health: Healthy once the host has started and until it begins to shut down; the registration's
/// failure status before the start and while connections are drained at shutdown, so that a load balancer stops sending
/// new upgrades to a server that would refuse them with 503.
/// </summary>
internal sealed class SocketRegistryHealthCheck(SocketRegistry registry) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["server_id"] = registry.ServerId,
            ["connections"] = registry.Count,
            ["clustered"] = registry.IsClustered,
        };

        HealthCheckResult result;
        if (registry.IsStopping)
        {
            result = new HealthCheckResult(context.Registration.FailureStatus, "The server is shutting down: it refuses new WebSocket connections and drains the open ones.", data: data);
        }
        else if (!registry.IsStarted)
        {
            result = new HealthCheckResult(context.Registration.FailureStatus, "The socket registry has not started yet.", data: data);
        }
        else
        {
            result = HealthCheckResult.Healthy("The socket registry accepts connections.", data);
        }

        return Task.FromResult(result);
    }
}
