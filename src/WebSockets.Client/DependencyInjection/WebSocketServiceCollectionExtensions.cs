using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using WebSockets.Client;
using WebSockets.Client.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds named WebSocket services (reconnecting clients) to an <see cref="IServiceCollection"/>.</summary>
public static class WebSocketServiceCollectionExtensions
{
    /// <summary>
    /// Registers a named WebSocket service, like GoFr's <c>AddWSService</c>: one <see cref="SocketClient"/> that connects
    /// when the host starts, reconnects when the connection drops (unless <see cref="SocketClientOptions.Reconnect"/> is
    /// off), and is closed when the host stops. Send to it with <see cref="IWebSocketServices.WriteMessageToServiceAsync(string, string, SocketClientSendOptions?, CancellationToken)"/>.
    /// </summary>
    /// <remarks>
    /// With <see cref="SocketClientOptions.Reconnect"/> on (the default), the host starts even if the service is down and
    /// sends wait in the outbox; with it off, a service that can't be reached fails the host's start. The client's
    /// options are named options of <paramref name="name"/>; the host's logger factory, meter factory and
    /// <see cref="TimeProvider"/> are used unless the options set their own. Add a health check with
    /// <see cref="WebSocketServiceHealthCheck"/>.
    /// </remarks>
    /// <param name="services">The service collection.</param>
    /// <param name="name">A unique name for the service.</param>
    /// <param name="uri">The service's WebSocket URI.</param>
    /// <param name="configure">Configures the client's options: headers, token, reconnection, outbox.</param>
    /// <returns>The service collection.</returns>
    /// <exception cref="InvalidOperationException">A service with that name is already registered.</exception>
    public static IServiceCollection AddWebSocketService(this IServiceCollection services, string name, Uri uri, Action<SocketClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(uri);

        foreach (var descriptor in services)
        {
            if (!descriptor.IsKeyedService && descriptor.ImplementationInstance is WebSocketServiceRegistration existing && existing.Name == name)
            {
                throw new InvalidOperationException($"A WebSocket service named '{name}' is already registered.");
            }
        }

        services.AddSingleton(new WebSocketServiceRegistration(name, uri));
        var options = services.AddOptions<SocketClientOptions>(name);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<WebSocketServices>();
        services.TryAddSingleton<IWebSocketServices>(static sp => sp.GetRequiredService<WebSocketServices>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, WebSocketServicesHostedService>());
        return services;
    }
}
