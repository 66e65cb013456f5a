using Microsoft.Extensions.DependencyInjection;

namespace WebSockets;

/// <summary>
/// Returned by <c>AddSocketRegistry</c> so that namespaces, and other packages (such as a backplane), can be added to
/// the registry.
/// </summary>
public interface ISocketRegistryBuilder
{
    /// <summary>Gets the service collection the registry is registered in.</summary>
    IServiceCollection Services { get; }
}
