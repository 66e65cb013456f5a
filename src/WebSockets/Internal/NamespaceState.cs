using System.Collections.Concurrent;
using System.Collections.Frozen;

namespace WebSockets.Internal;

/// <summary>One event handler, bound at start-up.</summary>
/// <param name="Name">The event name.</param>
/// <param name="Handler">The compiled handler.</param>
/// <param name="CreateTarget">For controller methods: makes the controller for one message from the scope.</param>
/// <param name="Authorization">The <c>[Authorize]</c> data the connection's user must meet, or null.</param>
internal sealed record EventRegistration(
    string Name,
    BoundHandler Handler,
    Func<IServiceProvider, ISocketConnection, object>? CreateTarget = null,
    Microsoft.AspNetCore.Authorization.IAuthorizeData[]? Authorization = null)
{
    /// <summary>The display name of its spans, <c>{namespace}/{event}</c>; set by the dispatcher on first use.</summary>
    public string? SpanName { get; set; }
}

/// <summary>A handler as added to a namespace builder, and how to bind it when the app starts.</summary>
/// <param name="Handler">The application's delegate; its method carries any <c>[Authorize]</c> data.</param>
/// <param name="Bind">Binds it, given the application's services and a description for error messages.</param>
internal sealed record HandlerSource(Delegate Handler, Func<IServiceProvider, string, BoundHandler> Bind);

/// <summary>A namespace at run time: its hooks, its events and its live connections.</summary>
internal sealed class NamespaceState
{
    private readonly Lock _eventsLock = new();
    private volatile FrozenDictionary<string, EventRegistration> _events;
    private volatile Func<ISocketConnection, CancellationToken, Task>[] _connectedHooks;
    private volatile Func<ISocketConnection, DisconnectReason, CancellationToken, Task>[] _disconnectedHooks;
    private int _count;

    public NamespaceState(SocketNamespaceBuilder builder, IServiceProvider services)
    {
        Name = builder.Name;
        _connectedHooks = [.. builder.ConnectedHooks];
        _disconnectedHooks = [.. builder.DisconnectedHooks];
        ErrorHooks = [.. builder.ErrorHooks];
        Batches = builder.Batches.ToFrozenDictionary(StringComparer.Ordinal);
        var events = new Dictionary<string, HandlerSource>(builder.Events, StringComparer.Ordinal);
        if (builder.RoomAuthorizer is { } authorize)
        {
            events[ClientRooms.JoinEvent] = ClientRooms.JoinHandler(authorize);
            events[ClientRooms.LeaveEvent] = ClientRooms.LeaveHandler();
        }

        events[TokenRefresh.Event] = TokenRefresh.Handler();
        _events = events
            .Select(e => Register(e.Key, e.Value, services))
            .ToFrozenDictionary(static e => e.Name, StringComparer.Ordinal);
        if (builder.BinaryHandler is { } binaryHandler)
        {
            var source = $"The binary handler of namespace '{Name}'";
            EventAuthorization.RefuseOnRawHandler(binaryHandler.Handler, source);
            BinaryHandler = binaryHandler.Bind(services, source);
        }
    }

    public string Name { get; }

    /// <summary>The display name of the spans of raw handlers serving this namespace.</summary>
    public string MessageSpanName => field ??= Name + "/(message)";

    /// <summary>The display name of the spans of binary frames handled by this namespace's binary handler.</summary>
    public string BinarySpanName => field ??= Name + "/(binary)";

    private EventRegistration Register(string eventName, HandlerSource handler, IServiceProvider services)
    {
        var source = $"Event '{eventName}' of namespace '{Name}'";
        var authorization = EventAuthorization.Find(handler.Handler.Method, controllerType: null);
        if (authorization is not null)
        {
            EventAuthorization.Validate(services, authorization, source);
        }

        return new EventRegistration(eventName, handler.Bind(services, source), Authorization: authorization);
    }

    public Func<ISocketConnection, CancellationToken, Task>[] ConnectedHooks => _connectedHooks;

    public Func<ISocketConnection, DisconnectReason, CancellationToken, Task>[] DisconnectedHooks => _disconnectedHooks;

    public Func<ISocketConnection, SocketEventError, CancellationToken, Task>[] ErrorHooks { get; }

    public FrozenDictionary<string, (TimeSpan Interval, int MaxItems)> Batches { get; }

    public BoundHandler? BinaryHandler { get; }

    public FrozenDictionary<string, EventRegistration> Events => _events;

    /// <summary>The dispatcher of endpoints that serve this namespace without a raw handler; made on first use.</summary>
    public EventDispatcher? Dispatcher { get; set; }

    public ConcurrentDictionary<string, SocketConnection> Connections { get; } = new(StringComparer.Ordinal);

    public int Count => Volatile.Read(ref _count);

    /// <summary>Adds events found on a controller. Runs at start-up, when endpoints are mapped.</summary>
    public void AddEvents(IEnumerable<EventRegistration> registrations, string source)
    {
        lock (_eventsLock)
        {
            var events = new Dictionary<string, EventRegistration>(_events, StringComparer.Ordinal);
            foreach (var registration in registrations)
            {
                if (!events.TryAdd(registration.Name, registration))
                {
                    throw new InvalidOperationException(
                        $"Event '{registration.Name}' of namespace '{Name}' is mapped twice ({source}); an event has exactly one handler.");
                }
            }

            _events = events.ToFrozenDictionary(StringComparer.Ordinal);
        }
    }

    /// <summary>Adds a controller's hooks after those of AddNamespace. Runs at start-up, when endpoints are mapped.</summary>
    public void AddHooks(Func<ISocketConnection, CancellationToken, Task>? connected, Func<ISocketConnection, DisconnectReason, CancellationToken, Task>? disconnected)
    {
        lock (_eventsLock)
        {
            if (connected is not null)
            {
                _connectedHooks = [.. _connectedHooks, connected];
            }

            if (disconnected is not null)
            {
                _disconnectedHooks = [.. _disconnectedHooks, disconnected];
            }
        }
    }

    public void Add(SocketConnection connection)
    {
        if (Connections.TryAdd(connection.Id, connection))
        {
            Interlocked.Increment(ref _count);
        }
    }

    public void Remove(SocketConnection connection)
    {
        if (Connections.TryRemove(new KeyValuePair<string, SocketConnection>(connection.Id, connection)))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    public bool Contains(SocketConnection connection) => Connections.TryGetValue(connection.Id, out var found) && ReferenceEquals(found, connection);
}
