using System.Diagnostics.CodeAnalysis;

namespace WebSockets;

/// <summary>
/// The registry of live WebSocket connections: look up, count, enumerate and broadcast.
/// Registered as a singleton by <c>AddSocketRegistry</c>; take it by constructor injection.
/// </summary>
public interface ISocketRegistry
{
    /// <summary>Gets the number of live connections on this server, across all namespaces. For the cluster, see <see cref="GetCountsAsync"/>.</summary>
    int Count { get; }

    /// <summary>Gets the number of live connections on this server in a namespace.</summary>
    /// <param name="namespace">The namespace name.</param>
    /// <returns>The count, or 0 for a namespace with no connections or that does not exist.</returns>
    int GetCount(string @namespace);

    /// <summary>Looks up a live connection of this server by its ID.</summary>
    /// <param name="connectionId">The connection ID.</param>
    /// <param name="connection">The connection, when found.</param>
    /// <returns><see langword="true"/> when a live connection has that ID.</returns>
    bool TryGetConnection(string connectionId, [NotNullWhen(true)] out ISocketConnection? connection);

    /// <summary>Enumerates the live connections of this server, of one namespace or of all.</summary>
    /// <param name="namespace">The namespace, or <see langword="null"/> for every namespace.</param>
    /// <returns>The connections live at the time each is reached; the enumeration does not lock the registry.</returns>
    IEnumerable<ISocketConnection> GetConnections(string? @namespace = null);

    /// <summary>
    /// Queues the same message to every live connection of one namespace, or of all, that passes the filter, on every
    /// server of the cluster. The payload is shared, not copied, per target. A filter is code, which can't travel to
    /// other servers: with a filter, only this server's connections are reached.
    /// </summary>
    /// <param name="message">The message.</param>
    /// <param name="namespace">The namespace, or <see langword="null"/> for every namespace.</param>
    /// <param name="filter">An optional predicate that selects targets.</param>
    /// <param name="cancellationToken">Cancels waiting for queue room when <see cref="SendQueueFullMode.Wait"/> applies.</param>
    /// <returns>A task that completes when the message is queued to (or dropped for) every target.</returns>
    ValueTask BroadcastAsync(SocketMessage message, string? @namespace = null, Func<ISocketConnection, bool>? filter = null, CancellationToken cancellationToken = default);

    /// <summary>Encodes <paramref name="text"/> as UTF-8 once and queues it as a text frame to every matching live connection, on every server.</summary>
    /// <param name="text">The text.</param>
    /// <param name="namespace">The namespace, or <see langword="null"/> for every namespace.</param>
    /// <param name="filter">An optional predicate that selects targets.</param>
    /// <param name="cancellationToken">Cancels waiting for queue room when <see cref="SendQueueFullMode.Wait"/> applies.</param>
    /// <returns>A task that completes when the message is queued to (or dropped for) every target.</returns>
    ValueTask BroadcastAsync(string text, string? @namespace = null, Func<ISocketConnection, bool>? filter = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Serializes <paramref name="value"/> to JSON once and queues it to every matching live connection, on every server.
    /// A <see cref="byte"/> array, <see cref="Memory{T}"/>, <see cref="ReadOnlyMemory{T}"/> or <see cref="ArraySegment{T}"/> of bytes is sent as one binary frame instead.
    /// </summary>
    /// <typeparam name="T">The type to serialize.</typeparam>
    /// <param name="value">The value, serialized with <see cref="SocketRegistryOptions.JsonSerializerOptions"/>.</param>
    /// <param name="namespace">The namespace, or <see langword="null"/> for every namespace.</param>
    /// <param name="filter">An optional predicate that selects targets.</param>
    /// <param name="cancellationToken">Cancels waiting for queue room when <see cref="SendQueueFullMode.Wait"/> applies.</param>
    /// <returns>A task that completes when the message is queued to (or dropped for) every target.</returns>
    ValueTask BroadcastAsync<T>(T value, string? @namespace = null, Func<ISocketConnection, bool>? filter = null, CancellationToken cancellationToken = default);

    /// <summary>Queues a message to the live connections of one namespace, or of all, on this server only.</summary>
    /// <param name="message">The message.</param>
    /// <param name="namespace">The namespace, or <see langword="null"/> for every namespace.</param>
    /// <param name="cancellationToken">Cancels waiting for queue room when <see cref="SendQueueFullMode.Wait"/> applies.</param>
    /// <returns>A task that completes when the message is queued to (or dropped for) every target.</returns>
    ValueTask BroadcastLocalAsync(SocketMessage message, string? @namespace = null, CancellationToken cancellationToken = default);

    /// <summary>Gets every live connection, of every namespace, on every server, as an audience.</summary>
    SocketAudience All { get; }

    /// <summary>Gets the live connections of a namespace, on every server, as an audience to emit or send to.</summary>
    /// <param name="namespace">The namespace name.</param>
    /// <returns>The audience; empty for a namespace that does not exist.</returns>
    SocketAudience Namespace(string @namespace);

    /// <summary>Gets the connections that are in any of the rooms, on every server, as an audience.</summary>
    /// <param name="rooms">The rooms. Rooms are shared by all namespaces; narrow with <see cref="SocketAudience.Where"/> locally.</param>
    /// <returns>The audience.</returns>
    SocketAudience Rooms(params string[] rooms);

    /// <summary>
    /// Gets every connection of the users, on every server, as an audience. A connection's user ID comes from
    /// <see cref="SocketRegistryOptions.UserIdProvider"/>.
    /// </summary>
    /// <param name="userIds">The user IDs.</param>
    /// <returns>The audience.</returns>
    SocketAudience Users(params string[] userIds);

    /// <summary>Gets connections by ID, on whichever server holds them, as an audience.</summary>
    /// <param name="connectionIds">The connection IDs.</param>
    /// <returns>The audience.</returns>
    SocketAudience Connections(params string[] connectionIds);

    /// <summary>Gets the members of a room on every server.</summary>
    /// <param name="room">The room.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The members, within <see cref="SocketRegistryOptions.ClusterQueryTimeout"/>; incomplete when part of the cluster did not answer in time.</returns>
    Task<ClusterResult<IReadOnlyList<SocketMember>>> GetRoomMembersAsync(string room, CancellationToken cancellationToken = default);

    /// <summary>Gets the rooms of a connection, on whichever server holds it.</summary>
    /// <param name="connectionId">The connection ID.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The rooms; empty when no server has the connection.</returns>
    Task<ClusterResult<IReadOnlyList<string>>> GetRoomsAsync(string connectionId, CancellationToken cancellationToken = default);

    /// <summary>Counts the live connections per namespace and the members per room, on every server.</summary>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The counts, within <see cref="SocketRegistryOptions.ClusterQueryTimeout"/>.</returns>
    Task<ClusterResult<SocketCounts>> GetCountsAsync(CancellationToken cancellationToken = default);

    /// <summary>Emits an event to one connection by its ID.</summary>
    /// <typeparam name="T">The data type.</typeparam>
    /// <param name="connectionId">The connection ID.</param>
    /// <param name="eventName">The event name.</param>
    /// <param name="data">The event data.</param>
    /// <param name="cancellationToken">Cancels waiting for queue room when <see cref="SendQueueFullMode.Wait"/> applies.</param>
    /// <returns>
    /// <see langword="true"/> when this server holds the connection. Otherwise, with a backplane, the event goes to the
    /// other servers, one of which may hold it; use <see cref="Connections"/> when that difference does not matter.
    /// </returns>
    ValueTask<bool> EmitAsync<T>(string connectionId, string eventName, T data, CancellationToken cancellationToken = default);

    /// <summary>Queues a message to one connection by its ID.</summary>
    /// <param name="connectionId">The connection ID.</param>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancels waiting for queue room when <see cref="SendQueueFullMode.Wait"/> applies.</param>
    /// <returns><see langword="true"/> when this server holds the connection. Otherwise, with a backplane, the message goes to the other servers.</returns>
    ValueTask<bool> SendAsync(string connectionId, SocketMessage message, CancellationToken cancellationToken = default);
}
