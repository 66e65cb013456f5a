using Microsoft.Extensions.Diagnostics.HealthChecks;
using WebSockets.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Adds the health of the WebSocket connection registry to the app's health checks.
/// </summary>
public static class SocketRegistryHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds a health check of the registry from <c>AddSocketRegistry()</c>: Healthy once the host has started and until it
    /// begins to shut down; <paramref name="failureStatus"/> before it has started and while it drains its connections
    /// at shutdown (new upgrades then get 503). The result's data holds <c>server_id</c>, <c>connections</c> (open on
    /// this server) and <c>clustered</c> (whether a backplane connects it to other servers). The backplane's own health
    /// is checked by its package, for example <c>AddRedisBackplane()</c> from <c>WebSockets.Redis</c>.
    /// </summary>
    /// <param name="builder">The builder from <c>services.AddHealthChecks()</c>.</param>
    /// <param name="name">The name of the check. The default is <c>"websockets"</c>.</param>
    /// <param name="failureStatus">The status reported when the registry does not accept connections. The default, <see langword="null"/>, is <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">Tags to filter checks by, for example <c>"ready"</c>. The default is none.</param>
    /// <returns>The health checks builder.</returns>
    public static IHealthChecksBuilder AddSocketRegistry(this IHealthChecksBuilder builder, string name = "websockets", HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        return builder.Add(new HealthCheckRegistration(
            name,
            static services => new SocketRegistryHealthCheck(services.GetService<SocketRegistry>()
                ?? throw new InvalidOperationException("The socket registry health check needs the registry: call services.AddSocketRegistry() as well.")),
            failureStatus,
            tags));
    }
}
