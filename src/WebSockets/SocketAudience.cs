using System.Net.WebSockets;
using WebSockets.Internal;

namespace WebSockets;

/// <summary>
/// A set of connections to send to, on every server of the cluster: a namespace, rooms, users or connection IDs,
/// narrowed with <see cref="Except"/>, <see cref="Where"/> and <see cref="Local"/>. Get one from
/// <see cref="ISocketRegistry.Namespace"/>, <see cref="ISocketRegistry.Rooms"/>, <see cref="ISocketRegistry.Users"/>,
/// <see cref="ISocketRegistry.Connections"/> or <see cref="ISocketRegistry.All"/>.
/// </summary>
/// <remarks>
/// Every send serializes once, queues the same bytes to each target on this server, and publishes one message to the
/// other servers through the backplane, which deliver it to their own targets. A connection in two of the rooms gets
/// the message once.
/// </remarks>
public readonly struct SocketAudience
{
    private readonly SocketRegistry? _registry;
    private readonly AudienceTarget _target;

    internal SocketAudience(SocketRegistry registry, AudienceTarget target)
    {
        _registry = registry;
        _target = target;
    }

    /// <summary>The other connections of a connection's namespace; kept for <see cref="ISocketConnection.BroadcastAsync{T}"/>.</summary>
    internal SocketAudience(SocketRegistry registry, NamespaceState ns, Func<ISocketConnection, bool>? filter, string except)
        : this(registry, new AudienceTarget { Namespace = ns.Name, Filter = filter, Except = [except] })
    {
    }

    internal AudienceTarget Target => _target;

    /// <summary>
    /// Narrows the audience to connections that match <paramref name="predicate"/>, such as a session item's value.
    /// A predicate is code, which can't travel to other servers: a filtered audience reaches this server's connections only.
    /// </summary>
    /// <param name="predicate">The predicate, evaluated per connection at send time.</param>
    /// <returns>The narrowed audience.</returns>
    public SocketAudience Where(Func<ISocketConnection, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        var previous = _target.Filter;
        return new SocketAudience(_registry!, _target with { Filter = previous is null ? predicate : c => previous(c) && predicate(c) });
    }

    /// <summary>Leaves out connections, typically the sender, on every server.</summary>
    /// <param name="connectionIds">The connection IDs to leave out.</param>
    /// <returns>The narrowed audience.</returns>
    public SocketAudience Except(params string[] connectionIds)
    {
        ArgumentNullException.ThrowIfNull(connectionIds);
        if (connectionIds.Length == 0)
        {
            return this;
        }

        return new SocketAudience(_registry!, _target with { Except = _target.Except is { } except ? [.. except, .. connectionIds] : [.. connectionIds] });
    }

    /// <summary>Narrows the audience to this server's connections: nothing is published to the other servers.</summary>
    /// <returns>The narrowed audience.</returns>
    public SocketAudience Local() => new(_registry!, _target with { LocalOnly = true });

    /// <summary>Emits an event to every connection of the audience. For an event batched with UseBatch, the data joins each connection's batch.</summary>
    /// <typeparam name="T">The data type.</typeparam>
    /// <param name="eventName">The event name.</param>
    /// <param name="data">The event data, serialized once as JSON.</param>
    /// <param name="cancellationToken">Cancels waiting for queue room when <see cref="SendQueueFullMode.Wait"/> applies.</param>
    /// <returns>A task that completes when the event is queued to (or dropped for) every target here and handed to the backplane.</returns>
    public ValueTask EmitAsync<T>(string eventName, T data, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(eventName);
        return _registry is null ? default : _registry.EmitAsync(_target, eventName, data, cancellationToken);
    }

    /// <summary>Emits an event without data (<c>"data":null</c>) to every connection of the audience.</summary>
    /// <param name="eventName">The event name.</param>
    /// <param name="cancellationToken">Cancels waiting for queue room when <see cref="SendQueueFullMode.Wait"/> applies.</param>
    /// <returns>A task that completes when the event is queued to (or dropped for) every target here and handed to the backplane.</returns>
    public ValueTask EmitAsync(string eventName, CancellationToken cancellationToken = default)
        => EmitAsync<object?>(eventName, null, cancellationToken);

    /// <summary>Queues a raw message to every connection of the audience.</summary>
    /// <param name="message">The message; its payload is shared, not copied.</param>
    /// <param name="cancellationToken">Cancels waiting for queue room when <see cref="SendQueueFullMode.Wait"/> applies.</param>
    /// <returns>A task that completes when the message is queued to (or dropped for) every target here and handed to the backplane.</returns>
    public ValueTask SendAsync(SocketMessage message, CancellationToken cancellationToken = default)
        => _registry is null ? default : _registry.SendAsync(_target, message, cancellationToken);

    /// <summary>
    /// Closes every connection of the audience, on every server: each sends what it has queued, then the close frame.
    /// </summary>
    /// <param name="closeStatus">The close code. The default is 1000 (normal closure).</param>
    /// <param name="statusDescription">An optional reason, at most 123 UTF-8 bytes.</param>
    /// <returns>A task that completes when every connection here has begun to close and the request is handed to the backplane.</returns>
    public ValueTask DisconnectAsync(WebSocketCloseStatus closeStatus = WebSocketCloseStatus.NormalClosure, string? statusDescription = null)
        => _registry is null ? default : _registry.DisconnectAsync(_target, closeStatus, statusDescription);
}
