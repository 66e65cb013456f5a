using Microsoft.Extensions.DependencyInjection;

namespace WebSockets.Internal;

internal sealed class SocketRegistryBuilder(IServiceCollection services) : ISocketRegistryBuilder
{
    public IServiceCollection Services { get; } = services;
}

/// <summary>Registered by AddSocketRegistry so that MapWebSocketEndpoint can tell it was called.</summary>
internal sealed class SocketRegistryMarkerService;

/// <summary>One AddNamespace call. Several calls for one name are applied in order.</summary>
internal sealed record NamespaceRegistration(string Name, Action<SocketNamespaceBuilder> Configure);
