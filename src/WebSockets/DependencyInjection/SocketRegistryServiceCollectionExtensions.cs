using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using WebSockets;
using WebSockets.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Adds the WebSocket connection registry to an <see cref="IServiceCollection"/>.
/// </summary>
public static class SocketRegistryServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="ISocketRegistry"/> as a singleton hosted service, so that it takes part in start-up and
    /// graceful shutdown. Options are validated when the host starts.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Configures <see cref="SocketRegistryOptions"/>; applied after the defaults.</param>
    /// <returns>A builder to add namespaces and extensions to the registry.</returns>
    public static ISocketRegistryBuilder AddSocketRegistry(this IServiceCollection services, Action<SocketRegistryOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);

        services.AddOptions<SocketRegistryOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SocketRegistryOptions>, SocketRegistryOptionsValidator>());
        if (configure is not null)
        {
            services.Configure(configure);
        }

        services.AddMetrics();
        services.AddLogging();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<SocketRegistryMarkerService>();
        services.TryAddSingleton<SocketMetrics>();
        services.TryAddSingleton<SocketBackplane>(static _ => new InMemorySocketBackplane());
        services.TryAddSingleton<SocketRegistry>();
        services.TryAddSingleton<ISocketRegistry>(static sp => sp.GetRequiredService<SocketRegistry>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, SocketRegistryHostedService>());

        return new SocketRegistryBuilder(services);
    }
}
