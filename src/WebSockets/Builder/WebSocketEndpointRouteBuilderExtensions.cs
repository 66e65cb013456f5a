using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using WebSockets;
using WebSockets.Internal;

namespace Microsoft.AspNetCore.Builder;

/// <summary>
/// Maps WebSocket endpoints whose connections join the <see cref="ISocketRegistry"/>.
/// </summary>
public static class WebSocketEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps a WebSocket endpoint whose every incoming message is handled by <paramref name="handler"/>, GoFr style.
    /// </summary>
    /// <remarks>
    /// <para>Each message binds to the handler's one message parameter: <see cref="string"/> (text frames),
    /// <see cref="byte"/>[], <see cref="ReadOnlyMemory{T}"/> of bytes or <see cref="SocketMessage"/> (text and binary frames;
    /// the handler gets its own copy, which it may keep or send on), or any other type, deserialized from a text frame as JSON.
    /// The handler can also take <see cref="ISocketConnection"/>, <see cref="CancellationToken"/> (canceled when the
    /// connection ends), <see cref="System.Security.Claims.ClaimsPrincipal"/>, <see cref="SocketSession"/>, and services,
    /// resolved from a scope created per message.</para>
    /// <para>A non-null return value, or the result of a returned task, is sent back: a string as a text frame, a byte
    /// array as a binary frame, a <see cref="SocketMessage"/> as it is, anything else as JSON in a text frame.
    /// A message that does not bind, or a handler that throws, gets an error notice
    /// (<c>{"event":"error","data":{"code":…,"message":…}}</c>) and the connection stays open.</para>
    /// </remarks>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="pattern">The route pattern.</param>
    /// <param name="handler">The message handler.</param>
    /// <returns>A builder for conventions such as <c>RequireAuthorization</c>, <c>RequireCors</c> or rate limiting.</returns>
    [RequiresUnreferencedCode(HandlerBinder.RequiresUnreferencedCodeMessage)]
    [RequiresDynamicCode(HandlerBinder.RequiresDynamicCodeMessage)]
    public static IEndpointConventionBuilder MapWebSocketEndpoint(this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string pattern, Delegate handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Map(endpoints, pattern, (services, registry) => MessageHandler.Create(handler, services, registry), configure: null);
    }

    /// <summary>
    /// Maps a WebSocket endpoint whose every incoming message is handled by <paramref name="handler"/>, with options.
    /// See <see cref="MapWebSocketEndpoint(IEndpointRouteBuilder, string, Delegate)"/> for how messages bind.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="pattern">The route pattern.</param>
    /// <param name="handler">The message handler.</param>
    /// <param name="configure">Configures the endpoint's handshake and limits.</param>
    /// <returns>A builder for conventions such as <c>RequireAuthorization</c>, <c>RequireCors</c> or rate limiting.</returns>
    [RequiresUnreferencedCode(HandlerBinder.RequiresUnreferencedCodeMessage)]
    [RequiresDynamicCode(HandlerBinder.RequiresDynamicCodeMessage)]
    public static IEndpointConventionBuilder MapWebSocketEndpoint(this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string pattern, Delegate handler, Action<WebSocketEndpointOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(configure);
        return Map(endpoints, pattern, (services, registry) => MessageHandler.Create(handler, services, registry), configure);
    }

    /// <summary>
    /// Maps a WebSocket endpoint that speaks the event protocol (docs/protocol.md) of a namespace: incoming events and
    /// requests go to the handlers added with <see cref="SocketNamespaceBuilder.On(string, Delegate)"/>, and the
    /// namespace's hooks run for its connections.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="pattern">The route pattern.</param>
    /// <param name="namespace">The namespace, registered with <c>AddNamespace</c> (or <c>"default"</c>).</param>
    /// <returns>A builder for conventions such as <c>RequireAuthorization</c>, <c>RequireCors</c> or rate limiting.</returns>
    public static IEndpointConventionBuilder MapWebSocketEndpoint(this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string pattern, string @namespace)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(@namespace);
        return Map(endpoints, pattern, createHandler: null, o => o.Namespace = @namespace);
    }

    /// <summary>
    /// Maps a WebSocket endpoint that speaks the event protocol of a namespace, with options.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="pattern">The route pattern.</param>
    /// <param name="namespace">The namespace, registered with <c>AddNamespace</c> (or <c>"default"</c>).</param>
    /// <param name="configure">Configures the endpoint's handshake and limits; its <see cref="WebSocketEndpointOptions.Namespace"/> is set to <paramref name="namespace"/> first.</param>
    /// <returns>A builder for conventions such as <c>RequireAuthorization</c>, <c>RequireCors</c> or rate limiting.</returns>
    public static IEndpointConventionBuilder MapWebSocketEndpoint(this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string pattern, string @namespace, Action<WebSocketEndpointOptions> configure)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(@namespace);
        ArgumentNullException.ThrowIfNull(configure);
        return Map(endpoints, pattern, createHandler: null, o =>
        {
            o.Namespace = @namespace;
            configure(o);
        });
    }

    /// <summary>
    /// Maps a WebSocket endpoint without a raw message handler: its connections join the namespace named by
    /// <see cref="WebSocketEndpointOptions.Namespace"/> and speak its event protocol (docs/protocol.md).
    /// </summary>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="pattern">The route pattern.</param>
    /// <param name="configure">Configures the endpoint's namespace, handshake and limits.</param>
    /// <returns>A builder for conventions such as <c>RequireAuthorization</c>, <c>RequireCors</c> or rate limiting.</returns>
    public static IEndpointConventionBuilder MapWebSocketEndpoint(this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string pattern, Action<WebSocketEndpointOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return Map(endpoints, pattern, createHandler: null, configure);
    }

    /// <summary>
    /// Maps a WebSocket endpoint served by a controller: its public methods are the events of its namespace
    /// (<see cref="SocketNamespaceAttribute"/>, or <c>"default"</c>), and its <see cref="SocketController.OnConnectedAsync"/>
    /// and <see cref="SocketController.OnDisconnectedAsync"/> overrides run for each connection. Methods are found
    /// and bound here, once; a method that cannot be bound, or two methods for one event, throw here.
    /// </summary>
    /// <typeparam name="TController">The controller type.</typeparam>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="pattern">The route pattern.</param>
    /// <param name="configure">Configures the endpoint's handshake and limits.</param>
    /// <returns>A builder for conventions such as <c>RequireAuthorization</c>, <c>RequireCors</c> or rate limiting.</returns>
    /// <remarks>
    /// Controllers are found, created and called by reflection, so this method is not trim- or Native AOT-safe: in such
    /// apps, map a namespace endpoint and add its events with the typed <c>On&lt;TData&gt;</c> overloads.
    /// </remarks>
    [RequiresUnreferencedCode(ControllerBinder.RequiresUnreferencedCodeMessage)]
    [RequiresDynamicCode(HandlerBinder.RequiresDynamicCodeMessage)]
    public static IEndpointConventionBuilder MapWebSocketController<TController>(this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string pattern, Action<WebSocketEndpointOptions>? configure = null)
        where TController : SocketController
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var registry = GetRegistry(endpoints.ServiceProvider);
        var namespaceName = ControllerBinder.GetNamespace(typeof(TController));
        var ns = registry.GetOrAddNamespace(namespaceName);
        ControllerBinder.Register(typeof(TController), ns, endpoints.ServiceProvider);
        return Map(endpoints, pattern, createHandler: null, o =>
        {
            configure?.Invoke(o);
            o.Namespace = namespaceName;
        });
    }

    internal static SocketRegistry GetRegistry(IServiceProvider services)
    {
        if (services.GetService<SocketRegistryMarkerService>() is null)
        {
            throw new InvalidOperationException(
                "Unable to find the required services. Add them by calling 'builder.Services.AddSocketRegistry()' before 'builder.Build()'.");
        }

        return services.GetRequiredService<SocketRegistry>();
    }

    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="pattern">The route pattern.</param>
    /// <param name="createHandler">Makes the raw message handler, or null for an endpoint of the event protocol.</param>
    /// <param name="configure">Configures the endpoint's options.</param>
    private static IEndpointConventionBuilder Map(
        IEndpointRouteBuilder endpoints, string pattern, Func<IServiceProvider, SocketRegistry, IMessageDispatcher>? createHandler, Action<WebSocketEndpointOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(pattern);

        var services = endpoints.ServiceProvider;
        var registry = GetRegistry(services);
        var options = new WebSocketEndpointOptions();
        configure?.Invoke(options);
        var failures = SocketRegistryOptionsValidator.Validate(options);
        if (failures.Count > 0)
        {
            throw new OptionsValidationException($"WebSocket endpoint '{pattern}'", typeof(WebSocketEndpointOptions), failures);
        }

        var namespaceName = options.Namespace ?? SocketRegistryOptions.DefaultNamespace;
        if (!registry.TryGetNamespace(namespaceName, out var ns))
        {
            throw new InvalidOperationException(
                $"The WebSocket endpoint '{pattern}' uses namespace '{namespaceName}', which is not registered. Register it with 'builder.Services.AddSocketRegistry().AddNamespace(\"{namespaceName}\", ns => …)'.");
        }

        var dispatcher = createHandler is null
            ? ns.Dispatcher ??= new EventDispatcher(ns, registry, services)
            : createHandler(services, registry);
        var runtime = new EndpointRuntime(options, ns, dispatcher);
        var endpoint = new WebSocketEndpoint(registry, runtime, services.GetRequiredService<ILogger<WebSocketEndpoint>>());

        // The WebSocket middleware supplies the upgrade feature; wrapping the endpoint in it means the app needs no
        // UseWebSockets() call. When the app has one, the middleware passes the request through.
        var middleware = new WebSocketMiddleware(endpoint.HandleAsync, Options.Create(new WebSocketOptions()), services.GetRequiredService<ILoggerFactory>());
        return endpoints.Map(pattern, middleware.Invoke)
            .WithDisplayName($"WebSocket {pattern}")
            .WithMetadata(WebSocketEndpointMetadata.Instance);
    }
}
