using System.Diagnostics.CodeAnalysis;
using WebSockets.Internal;

namespace WebSockets;

/// <summary>
/// Configures one namespace: its event handlers, the hooks that run when a connection joins it and when it leaves,
/// error hooks and batched events.
/// </summary>
/// <remarks>
/// Every hook runs exactly once per connection: the connect hooks after the upgrade and before the first message
/// is read, the disconnect hooks after the connection has ended, however it ended. Hooks run in the order they were
/// added. A hook that throws is logged; a failing connect hook closes its connection with 1011. Neither ever affects
/// other connections.
/// </remarks>
public sealed class SocketNamespaceBuilder
{
    internal SocketNamespaceBuilder(string name)
    {
        Name = name;
    }

    /// <summary>Gets the namespace name.</summary>
    public string Name { get; }

    internal List<Func<ISocketConnection, CancellationToken, Task>> ConnectedHooks { get; } = [];

    internal List<Func<ISocketConnection, DisconnectReason, CancellationToken, Task>> DisconnectedHooks { get; } = [];

    internal List<Func<ISocketConnection, SocketEventError, CancellationToken, Task>> ErrorHooks { get; } = [];

    internal Dictionary<string, HandlerSource> Events { get; } = new(StringComparer.Ordinal);

    internal HandlerSource? BinaryHandler { get; private set; }

    internal Dictionary<string, (TimeSpan Interval, int MaxItems)> Batches { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Handles an event. The handler's parameters bind like a minimal API: one parameter takes the event's
    /// <c>data</c>, deserialized from JSON; others take <see cref="ISocketConnection"/>, a <see cref="CancellationToken"/>
    /// (canceled when the connection ends), <see cref="System.Security.Claims.ClaimsPrincipal"/>,
    /// <see cref="SocketSession"/>, or services resolved from a scope created per message. When the client sent a
    /// request, the return value (or the awaited result) is the reply's data.
    /// </summary>
    /// <param name="eventName">The event name: non-empty, not <c>error</c>, not starting with <c>batch_</c>.</param>
    /// <param name="handler">The handler.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The event already has a handler in this namespace.</exception>
    /// <remarks>
    /// The handler's parameters are bound by reflection and a call to it is compiled when the app starts, so this overload
    /// is not trim- or Native AOT-safe; the typed overloads <see cref="On{TData}"/> and <see cref="On{TData, TReply}"/> are.
    /// </remarks>
    [RequiresUnreferencedCode(HandlerBinder.RequiresUnreferencedCodeMessage)]
    [RequiresDynamicCode(HandlerBinder.RequiresDynamicCodeMessage)]
    public SocketNamespaceBuilder On(string eventName, Delegate handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Add(eventName, new HandlerSource(handler, (services, source) =>
            HandlerBinder.Bind(handler.Method, handler.Target, null, services, rawMessages: false, source)));
    }

    /// <summary>Handles an event whose data binds to <typeparamref name="TData"/>.</summary>
    /// <typeparam name="TData">The type the event's data is deserialized to.</typeparam>
    /// <param name="eventName">The event name.</param>
    /// <param name="handler">The handler.</param>
    /// <returns>This builder.</returns>
    /// <remarks>
    /// Trim- and Native AOT-safe: no reflection binds the handler. <typeparamref name="TData"/> is deserialized with
    /// <see cref="SocketRegistryOptions.JsonSerializerOptions"/>, whose resolver must know it (in Native AOT apps, through a
    /// <c>JsonSerializerContext</c>). JSON <c>null</c> reaches the handler only if <typeparamref name="TData"/> is a nullable
    /// value type or the lambda's parameter is annotated nullable.
    /// </remarks>
    public SocketNamespaceBuilder On<TData>(string eventName, Func<ISocketConnection, TData, CancellationToken, Task> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Add(eventName, new HandlerSource(handler, (_, _) => TypedHandler.Create(handler)));
    }

    /// <summary>Handles a request whose data binds to <typeparamref name="TData"/> and whose reply is a <typeparamref name="TReply"/>.</summary>
    /// <typeparam name="TData">The type the request's data is deserialized to.</typeparam>
    /// <typeparam name="TReply">The type of the reply's data.</typeparam>
    /// <param name="eventName">The event name.</param>
    /// <param name="handler">The handler.</param>
    /// <returns>This builder.</returns>
    /// <remarks>
    /// Trim- and Native AOT-safe: no reflection binds the handler. <typeparamref name="TData"/> and
    /// <typeparamref name="TReply"/> are serialized with <see cref="SocketRegistryOptions.JsonSerializerOptions"/>, whose
    /// resolver must know them (in Native AOT apps, through a <c>JsonSerializerContext</c>).
    /// </remarks>
    public SocketNamespaceBuilder On<TData, TReply>(string eventName, Func<ISocketConnection, TData, CancellationToken, Task<TReply>> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Add(eventName, new HandlerSource(handler, (_, _) => TypedHandler.Create(handler)));
    }

    private SocketNamespaceBuilder Add(string eventName, HandlerSource handler)
    {
        ValidateEventName(eventName);
        if (!Events.TryAdd(eventName, handler))
        {
            throw new InvalidOperationException($"Event '{eventName}' of namespace '{Name}' already has a handler; an event has exactly one.");
        }

        return this;
    }

    /// <summary>
    /// Handles binary frames, which otherwise get a <c>binary_not_supported</c> error notice. The handler binds like a
    /// message handler of <c>MapWebSocketEndpoint</c>: <see cref="byte"/>[], <see cref="ReadOnlyMemory{T}"/> or
    /// <see cref="SocketMessage"/>, and its return value is sent back.
    /// </summary>
    /// <param name="handler">The handler.</param>
    /// <returns>This builder.</returns>
    /// <remarks>The handler's parameters are bound by reflection, so this method is not trim- or Native AOT-safe.</remarks>
    [RequiresUnreferencedCode(HandlerBinder.RequiresUnreferencedCodeMessage)]
    [RequiresDynamicCode(HandlerBinder.RequiresDynamicCodeMessage)]
    public SocketNamespaceBuilder OnBinary(Delegate handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        BinaryHandler = new HandlerSource(handler, (services, source) =>
            HandlerBinder.Bind(handler.Method, handler.Target, null, services, rawMessages: true, source));
        return this;
    }

    /// <summary>
    /// Adds a hook that runs when a message from a client of this namespace could not be processed: malformed JSON,
    /// an unknown event, data that does not bind, a handler that threw. The client has already been told. Messages
    /// refused by the rate limit (<c>rate_limited</c>) are counted, not passed to the hooks, so a flood costs no
    /// application work per message.
    /// </summary>
    /// <param name="hook">The hook. A hook that throws is logged.</param>
    /// <returns>This builder.</returns>
    public SocketNamespaceBuilder OnError(Func<ISocketConnection, SocketEventError, CancellationToken, Task> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        ErrorHooks.Add(hook);
        return this;
    }

    /// <summary>
    /// Batches an event: what is emitted to a connection under <paramref name="eventName"/> is collected and sent as one
    /// <c>{"event":"batch_&lt;name&gt;","data":[…]}</c> message per <paramref name="interval"/>, or as soon as
    /// <paramref name="maxItems"/> are waiting. A batch is flushed before its connection closes cleanly or the server
    /// shuts down, so nothing batched is lost then.
    /// </summary>
    /// <param name="eventName">The event to batch.</param>
    /// <param name="interval">How long an item may wait. Must be positive.</param>
    /// <param name="maxItems">The most items per batch. Must be positive. The default is 1000.</param>
    /// <returns>This builder.</returns>
    public SocketNamespaceBuilder UseBatch(string eventName, TimeSpan interval, int? maxItems = null)
    {
        ValidateEventName(eventName);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        var max = maxItems ?? 1000;
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1, nameof(maxItems));
        Batches[eventName] = (interval, max);
        return this;
    }

    /// <summary>
    /// Lets clients of this namespace join and leave rooms themselves, with the requests <c>$join</c> and
    /// <c>$leave</c> (<c>{"room":"…"}</c>, see docs/protocol.md). Each join is first put to
    /// <paramref name="authorize"/>; a refused join gets the error reply <c>forbidden</c>. Leaving is always allowed.
    /// Without this call, those requests get <c>unknown_event</c>, and only server code changes rooms.
    /// </summary>
    /// <param name="authorize">Decides whether the connection may join the room.</param>
    /// <returns>This builder.</returns>
    public SocketNamespaceBuilder AllowClientRooms(Func<ISocketConnection, string, CancellationToken, ValueTask<bool>> authorize)
    {
        ArgumentNullException.ThrowIfNull(authorize);
        RoomAuthorizer = authorize;
        return this;
    }

    internal Func<ISocketConnection, string, CancellationToken, ValueTask<bool>>? RoomAuthorizer { get; private set; }

    internal static void ValidateEventName(string eventName)
    {
        ArgumentException.ThrowIfNullOrEmpty(eventName);
        if (eventName == "error" || eventName.StartsWith("batch_", StringComparison.Ordinal) || eventName.StartsWith('$'))
        {
            throw new ArgumentException($"Event name '{eventName}' is reserved: 'error' and names starting with 'batch_' are sent by the server, and names starting with '$' are built in.", nameof(eventName));
        }
    }

    /// <summary>Adds a hook that runs when a connection joins the namespace, before its first message is read.</summary>
    /// <param name="hook">
    /// The hook. Its token is canceled when <see cref="WebSocketEndpointOptions.HandshakeTimeout"/> expires or the
    /// connection ends. Messages it sends are delivered after the handshake.
    /// </param>
    /// <returns>This builder.</returns>
    public SocketNamespaceBuilder OnConnected(Func<ISocketConnection, CancellationToken, Task> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        ConnectedHooks.Add(hook);
        return this;
    }

    /// <summary>Adds a hook that runs once a connection of the namespace has ended and left the registry.</summary>
    /// <param name="hook">The hook. Its token is canceled when the host's shutdown timeout expires.</param>
    /// <returns>This builder.</returns>
    public SocketNamespaceBuilder OnDisconnected(Func<ISocketConnection, DisconnectReason, CancellationToken, Task> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        DisconnectedHooks.Add(hook);
        return this;
    }
}
