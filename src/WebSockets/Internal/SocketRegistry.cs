using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace WebSockets.Internal;

/// <summary>
/// The connection map and the lifecycle of every connection: reserve the ID, accept, connect hooks, pumps,
/// disconnect hooks. The map is keyed by connection ID with ordinal comparison.
/// </summary>
internal sealed partial class SocketRegistry : ISocketRegistry
{
    private readonly ConcurrentDictionary<string, SocketConnection> _connections = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, NamespaceState> _namespaces;
    private readonly IServiceProvider _services;
    private readonly CancellationTokenSource _hardStop = new();
    private readonly ILogger _logger;
    private int _count;
    private volatile bool _stopping;
    private volatile bool _started;

    public SocketRegistry(
        IOptions<SocketRegistryOptions> options,
        IEnumerable<NamespaceRegistration> namespaces,
        SocketMetrics metrics,
        ILoggerFactory loggerFactory,
        TimeProvider timeProvider,
        SocketBackplane backplane,
        IServiceProvider services)
    {
        _backplane = backplane;
        _clustered = backplane is not InMemorySocketBackplane { IsConnected: false };
        ServerId = NewServerId();
        BackplaneContext = new RegistryBackplaneContext(this);
        Options = options.Value;
        JsonDefaults.WithResolver(Options.JsonSerializerOptions);
        Limits = new ConnectionLimiter(Options);
        _services = services;
        Metrics = metrics;
        TimeProvider = timeProvider;
        _logger = loggerFactory.CreateLogger<SocketRegistry>();
        ConnectionLogger = loggerFactory.CreateLogger<SocketConnection>();

        var builders = new Dictionary<string, SocketNamespaceBuilder>(StringComparer.Ordinal)
        {
            [SocketRegistryOptions.DefaultNamespace] = new SocketNamespaceBuilder(SocketRegistryOptions.DefaultNamespace),
        };
        foreach (var registration in namespaces)
        {
            if (!builders.TryGetValue(registration.Name, out var builder))
            {
                builders[registration.Name] = builder = new SocketNamespaceBuilder(registration.Name);
            }

            registration.Configure(builder);
        }

        _namespaces = new ConcurrentDictionary<string, NamespaceState>(
            builders.Select(b => KeyValuePair.Create(b.Key, new NamespaceState(b.Value, services))), StringComparer.Ordinal);
        _batchedEvents = builders.Values.SelectMany(static b => b.Batches.Keys).ToFrozenSet(StringComparer.Ordinal);
        metrics.ObserveQueuedMessages(ObserveQueuedMessages);
    }

    public SocketRegistryOptions Options { get; }

    /// <summary>The application's root services.</summary>
    internal IServiceProvider Services => _services;

    public SocketMetrics Metrics { get; }

    /// <summary>The connection limits; a connection's slot is taken before its upgrade is accepted.</summary>
    internal ConnectionLimiter Limits { get; }

    public TimeProvider TimeProvider { get; }

    public ILogger ConnectionLogger { get; }

    public bool IsStopping => _stopping;

    /// <summary>Whether the host has started (the backplane is started and the server takes connections).</summary>
    public bool IsStarted => _started;

    internal void MarkStarted()
    {
        StartedAt = TimeProvider.GetUtcNow();
        _started = true;
    }

    /// <summary>When the host started, or null before it has.</summary>
    internal DateTimeOffset? StartedAt { get; private set; }

    /// <summary>The namespaces, with their live connections on this server.</summary>
    internal ICollection<NamespaceState> NamespaceStates => _namespaces.Values;

    public int Count => Volatile.Read(ref _count);

    /// <summary>Connection IDs claimed, by live connections and by ones still being accepted or ending (for tests).</summary>
    internal int ReservedCount => _connections.Count;

    internal bool TryGetNamespace(string name, [NotNullWhen(true)] out NamespaceState? state) => _namespaces.TryGetValue(name, out state);

    /// <summary>For controllers, which declare their namespace: gets it, or creates it without hooks.</summary>
    internal NamespaceState GetOrAddNamespace(string name)
        => _namespaces.GetOrAdd(name, static (n, services) => new NamespaceState(new SocketNamespaceBuilder(n), services), _services);

    public int GetCount(string @namespace)
    {
        ArgumentNullException.ThrowIfNull(@namespace);
        return _namespaces.TryGetValue(@namespace, out var ns) ? ns.Count : 0;
    }

    public bool TryGetConnection(string connectionId, [NotNullWhen(true)] out ISocketConnection? connection)
    {
        ArgumentNullException.ThrowIfNull(connectionId);
        if (_connections.TryGetValue(connectionId, out var found) && found.NamespaceState.Contains(found))
        {
            connection = found;
            return true;
        }

        connection = null;
        return false;
    }

    public IEnumerable<ISocketConnection> GetConnections(string? @namespace = null)
    {
        if (@namespace is not null)
        {
            return _namespaces.TryGetValue(@namespace, out var ns) ? ns.Connections.Select(static c => (ISocketConnection)c.Value) : [];
        }

        return _namespaces.Values.SelectMany(static ns => ns.Connections.Select(static c => (ISocketConnection)c.Value));
    }

    public ValueTask BroadcastAsync(SocketMessage message, string? @namespace = null, Func<ISocketConnection, bool>? filter = null, CancellationToken cancellationToken = default)
        => SendAsync(TargetOf(@namespace, filter), message, cancellationToken);

    public ValueTask BroadcastAsync(string text, string? @namespace = null, Func<ISocketConnection, bool>? filter = null, CancellationToken cancellationToken = default)
        => BroadcastAsync(SocketMessage.Text(text), @namespace, filter, cancellationToken);

    public ValueTask BroadcastAsync<T>(T value, string? @namespace = null, Func<ISocketConnection, bool>? filter = null, CancellationToken cancellationToken = default)
        => BroadcastAsync(MessageFactory.Create(value, Options.JsonSerializerOptions), @namespace, filter, cancellationToken);

    public ValueTask BroadcastLocalAsync(SocketMessage message, string? @namespace = null, CancellationToken cancellationToken = default)
        => SendAsync(@namespace is null ? LocalAll : new AudienceTarget { Namespace = @namespace, LocalOnly = true }, message, cancellationToken);

    public SocketAudience All => new(this, AudienceTarget.All);

    public SocketAudience Namespace(string @namespace)
    {
        ArgumentNullException.ThrowIfNull(@namespace);
        return new SocketAudience(this, new AudienceTarget { Namespace = @namespace });
    }

    public SocketAudience Rooms(params string[] rooms)
    {
        ArgumentNullException.ThrowIfNull(rooms);
        foreach (var room in rooms)
        {
            SocketConnection.ValidateRoom(room);
        }

        return new SocketAudience(this, new AudienceTarget { Rooms = [.. rooms] });
    }

    public SocketAudience Users(params string[] userIds)
    {
        ArgumentNullException.ThrowIfNull(userIds);
        foreach (var user in userIds)
        {
            ArgumentException.ThrowIfNullOrEmpty(user, nameof(userIds));
        }

        return new SocketAudience(this, new AudienceTarget { Users = [.. userIds] });
    }

    public SocketAudience Connections(params string[] connectionIds)
    {
        ArgumentNullException.ThrowIfNull(connectionIds);
        foreach (var id in connectionIds)
        {
            ArgumentException.ThrowIfNullOrEmpty(id, nameof(connectionIds));
        }

        return new SocketAudience(this, new AudienceTarget { ConnectionIds = [.. connectionIds] });
    }

    public ValueTask<bool> EmitAsync<T>(string connectionId, string eventName, T data, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connectionId);
        if (!TryGetConnection(connectionId, out var connection))
        {
            var published = EmitAsync(new AudienceTarget { ConnectionIds = [connectionId] }, eventName, data, cancellationToken);
            return published.IsCompletedSuccessfully ? new ValueTask<bool>(false) : AwaitSend(published, found: false);
        }

        var sending = connection.EmitAsync(eventName, data, cancellationToken);
        return sending.IsCompletedSuccessfully ? new ValueTask<bool>(true) : AwaitSend(sending, found: true);
    }

    public ValueTask<bool> SendAsync(string connectionId, SocketMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connectionId);
        if (!TryGetConnection(connectionId, out var connection))
        {
            var published = SendAsync(new AudienceTarget { ConnectionIds = [connectionId] }, message, cancellationToken);
            return published.IsCompletedSuccessfully ? new ValueTask<bool>(false) : AwaitSend(published, found: false);
        }

        var sending = connection.SendAsync(message, cancellationToken);
        return sending.IsCompletedSuccessfully ? new ValueTask<bool>(true) : AwaitSend(sending, found: true);
    }

    private static async ValueTask<bool> AwaitSend(ValueTask sending, bool found)
    {
        await sending;
        return found;
    }

    /// <summary>The messages waiting in send queues, per namespace: read when the meter is collected, never per message.</summary>
    private IEnumerable<System.Diagnostics.Metrics.Measurement<long>> ObserveQueuedMessages()
    {
        var measurements = new List<System.Diagnostics.Metrics.Measurement<long>>(_namespaces.Count);
        foreach (var (name, ns) in _namespaces)
        {
            long queued = 0;
            foreach (var (_, connection) in ns.Connections)
            {
                queued += connection.QueuedMessages;
            }

            measurements.Add(new(queued, new KeyValuePair<string, object?>(SocketMetrics.NamespaceTag, name)));
        }

        return measurements;
    }

    // ---- Connection lifecycle -------------------------------------------------------------------------------

    /// <summary>Claims the connection's ID. Fails when a connection (live or still being accepted) has it.</summary>
    internal bool TryReserve(SocketConnection connection) => _connections.TryAdd(connection.Id, connection);

    /// <summary>Accepts the upgrade and runs the connection to its end. The ID must be reserved.</summary>
    internal async Task RunConnectionAsync(HttpContext context, SocketConnection connection, WebSocketAcceptContext acceptContext, EndpointRuntime endpoint)
    {
        try
        {
            await RunConnectionCoreAsync(context, connection, acceptContext, endpoint);
        }
        finally
        {
            // Normally released as soon as the socket is done; this covers every other way out.
            connection.LimitSlot?.Release();
        }
    }

    private async Task RunConnectionCoreAsync(HttpContext context, SocketConnection connection, WebSocketAcceptContext acceptContext, EndpointRuntime endpoint)
    {
        var ns = connection.NamespaceState;
        bool connected;
        var handshakeCts = new CancellationTokenSource(endpoint.HandshakeTimeout, TimeProvider);
        try
        {
            WebSocket socket;
            try
            {
                socket = await context.WebSockets.AcceptWebSocketAsync(acceptContext).WaitAsync(handshakeCts.Token);
            }
            catch (Exception ex)
            {
                _connections.TryRemove(new KeyValuePair<string, SocketConnection>(connection.Id, connection));
                Log.AcceptFailed(_logger, connection.Id, ex);
                Metrics.ConnectionRejected(ns.Name, RejectionReason.HandshakeFailed);
                context.Abort();
                connection.MarkCompleted();
                return;
            }

            connection.Start(socket);
            ns.Add(connection);
            await RegisterAsync(connection);
            Interlocked.Increment(ref _count);
            Metrics.ConnectionOpened(ns.Name);
            Log.Connected(_logger, connection.Id, ns.Name, connection.SubProtocol);
            if (_stopping)
            {
                connection.RequestClose(WebSocketCloseStatus.EndpointUnavailable, "Server shutting down", DisconnectReason.ServerShutdown, drain: true, Options.DrainTimeout);
            }

            connected = await RunConnectedHooksAsync(connection, handshakeCts.Token);
        }
        finally
        {
            // The handshake is over: release its timer now, not when the connection ends.
            handshakeCts.Dispose();
        }

        try
        {
            await connection.RunAsync(startReading: connected);
        }
        finally
        {
            // The socket is done: its connection-limit slot is free for the next upgrade. Leave the namespace only
            // now, so a hung connection stays visible. The ID stays claimed until the disconnect hooks have run, so a
            // reconnect with the same ID can't overlap them.
            connection.LimitSlot?.Release();
            ns.Remove(connection);
            await UnregisterAsync(connection);
            Interlocked.Decrement(ref _count);
            var reason = connection.Reason;
            Metrics.ConnectionClosed(ns.Name, reason);
            Log.Disconnected(_logger, connection.Id, ns.Name, reason, connection.CloseStatus);
            connection.DetachFromRequest();
            await RunDisconnectedHooksAsync(connection, reason);
            _connections.TryRemove(new KeyValuePair<string, SocketConnection>(connection.Id, connection));
            connection.MarkCompleted();
        }
    }

    private async Task<bool> RunConnectedHooksAsync(SocketConnection connection, CancellationToken handshakeToken)
    {
        var hooks = connection.NamespaceState.ConnectedHooks;
        if (hooks.Length == 0)
        {
            return true;
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(handshakeToken, connection.ConnectionClosed);
        foreach (var hook in hooks)
        {
            try
            {
                await hook(connection, linked.Token);
            }
            catch (Exception ex)
            {
                if (handshakeToken.IsCancellationRequested)
                {
                    Log.ConnectedHookTimedOut(_logger, connection.Id, connection.Namespace, ex);
                }
                else if (ex is OperationCanceledException && connection.ConnectionClosed.IsCancellationRequested)
                {
                    // The connection ended (aborted, or the client went away) while the hook ran: not the hook's fault.
                    Log.ConnectedHookCanceled(_logger, connection.Id, connection.Namespace);
                }
                else
                {
                    Log.ConnectedHookFailed(_logger, connection.Id, connection.Namespace, ex);
                }

                connection.RequestClose(WebSocketCloseStatus.InternalServerError, "Connection setup failed.", DisconnectReason.HookFailed, drain: true);
                return false;
            }
        }

        if (handshakeToken.IsCancellationRequested)
        {
            Log.ConnectedHookTimedOut(_logger, connection.Id, connection.Namespace, null);
            connection.RequestClose(WebSocketCloseStatus.InternalServerError, "Connection setup timed out.", DisconnectReason.HookFailed, drain: true);
            return false;
        }

        return true;
    }

    private async Task RunDisconnectedHooksAsync(SocketConnection connection, DisconnectReason reason)
    {
        foreach (var hook in connection.NamespaceState.DisconnectedHooks)
        {
            try
            {
                await hook(connection, reason, _hardStop.Token);
            }
            catch (Exception ex)
            {
                Log.DisconnectedHookFailed(_logger, connection.Id, connection.Namespace, ex);
            }
        }
    }

    // ---- Shutdown ------------------------------------------------------------------------------------------

    /// <summary>Refuses new connections, then drains and closes every connection with 1001, all at once.</summary>
    internal async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        var connections = _connections.Values.ToArray();
        if (connections.Length == 0)
        {
            return;
        }

        Log.Draining(_logger, connections.Length, Options.DrainTimeout);
        foreach (var connection in connections)
        {
            connection.RequestClose(WebSocketCloseStatus.EndpointUnavailable, "Server shutting down", DisconnectReason.ServerShutdown, drain: true, Options.DrainTimeout);
        }

        using var registration = cancellationToken.Register(static s => ((CancellationTokenSource)s!).Cancel(), _hardStop);
        try
        {
            await Task.WhenAll(connections.Select(static c => c.Completion)).WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Log.DrainIncomplete(_logger, Count);
        }
    }
}
