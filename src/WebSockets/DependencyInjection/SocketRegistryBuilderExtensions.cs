using WebSockets;
using WebSockets.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Adds namespaces to the socket registry.
/// </summary>
public static class SocketRegistryBuilderExtensions
{
    /// <summary>
    /// Adds a namespace, or configures one added before, with its connect and disconnect hooks. Endpoints join a
    /// namespace through <see cref="WebSocketEndpointOptions.Namespace"/>; the default namespace,
    /// <see cref="SocketRegistryOptions.DefaultNamespace"/>, always exists.
    /// </summary>
    /// <param name="builder">The registry builder.</param>
    /// <param name="name">The namespace name: non-empty, compared ordinally.</param>
    /// <param name="configure">Adds the namespace's hooks.</param>
    /// <returns>The registry builder.</returns>
    public static ISocketRegistryBuilder AddNamespace(this ISocketRegistryBuilder builder, string name, Action<SocketNamespaceBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configure);

        builder.Services.AddSingleton(new NamespaceRegistration(name, configure));
        return builder;
    }
}
