using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Net.WebSockets;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace WebSockets.Internal;

/// <summary>
/// Rooms, users and the cluster: the local indexes of room members and of users' connections, audience delivery
/// (local targets first, then one publish to the other servers), what other servers publish, and presence queries
/// that merge this server's part with the backplane's.
/// </summary>
internal sealed partial class SocketRegistry
{
    private static readonly AudienceTarget LocalAll = new() { LocalOnly = true };

    private readonly SocketBackplane _backplane;
    private readonly bool _clustered;
    private readonly FrozenSet<string> _batchedEvents;

    // Membership changes are rare next to sends: one lock keeps rooms, users and presence consistent, while senders
    // read the concurrent maps without it. An empty room or user entry is removed under the lock, so a join can't
    // land in a map that was just dropped.
    private readonly Lock _membershipLock = new();
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, SocketConnection>> _rooms = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, SocketConnection>> _users = new(StringComparer.Ordinal);

    /// <summary>This server's ID in the cluster.</summary>
    public string ServerId { get; }

    internal SocketBackplaneContext BackplaneContext { get; }

    internal SocketBackplane Backplane => _backplane;

    /// <summary>Whether a backplane connects this server to others; when not, nothing is encoded or published.</summary>
    internal bool IsClustered => _clustered;

    private static string NewServerId()
        => $"{Environment.MachineName}-{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";

    internal string? GetUserId(HttpContext context)
        => Options.UserIdProvider is { } provider
            ? provider(context)
            : context.User.Identity?.IsAuthenticated == true ? context.User.FindFirst(ClaimTypes.NameIdentifier)?.Value : null;

    private static AudienceTarget TargetOf(string? @namespace, Func<ISocketConnection, bool>? filter)
        => @namespace is null && filter is null ? AudienceTarget.All : new AudienceTarget { Namespace = @namespace, Filter = filter };

    // ---- Backplane lifetime --------------------------------------------------------------------------------

    internal Task StartBackplaneAsync(CancellationToken cancellationToken) => _backplane.StartAsync(BackplaneContext, cancellationToken);

    internal Task StopBackplaneAsync(CancellationToken cancellationToken) => _backplane.StopAsync(cancellationToken);

    // ---- Membership ----------------------------------------------------------------------------------------

    private async ValueTask RegisterAsync(SocketConnection connection)
    {
        ValueTask recording;
        lock (_membershipLock)
        {
            connection.IsRegistered = true;
            if (connection.UserId is { } user)
            {
                _users.GetOrAdd(user, static _ => new ConcurrentDictionary<string, SocketConnection>(StringComparer.Ordinal))[connection.Id] = connection;
            }

            connection.Member = CreateMember(connection);
            recording = _clustered ? RecordPresence(connection.Member, joined: null, left: null) : default;
        }

        await AwaitBackplaneAsync(recording, connection.Id);
    }

    private async ValueTask UnregisterAsync(SocketConnection connection)
    {
        ValueTask recording;
        lock (_membershipLock)
        {
            if (!connection.IsRegistered)
            {
                return;
            }

            connection.IsRegistered = false;
            foreach (var room in connection.Rooms)
            {
                RemoveFromIndex(_rooms, room, connection);
            }

            if (connection.UserId is { } user)
            {
                RemoveFromIndex(_users, user, connection);
            }

            // The connection keeps its rooms, so that disconnect hooks can tell who was in which room.
            recording = _clustered && connection.Member is { } member ? RecordRemoval(member) : default;
        }

        await AwaitBackplaneAsync(recording, connection.Id);
    }

    internal async ValueTask JoinAsync(SocketConnection connection, string room)
    {
        ValueTask recording;
        lock (_membershipLock)
        {
            if (!connection.IsRegistered || connection.IsInRoom(room))
            {
                return;
            }

            if (connection.Rooms.Count >= Options.MaxRoomsPerConnection)
            {
                throw new InvalidOperationException(
                    $"Connection {connection.Id} is already in {Options.MaxRoomsPerConnection} rooms, the most SocketRegistryOptions.MaxRoomsPerConnection allows.");
            }

            connection.AddRoom(room);
            _rooms.GetOrAdd(room, static _ => new ConcurrentDictionary<string, SocketConnection>(StringComparer.Ordinal))[connection.Id] = connection;
            connection.Member = CreateMember(connection);
            recording = _clustered ? RecordPresence(connection.Member, joined: room, left: null) : default;
        }

        Log.RoomJoined(_logger, connection.Id, room);
        await AwaitBackplaneAsync(recording, connection.Id);
    }

    internal async ValueTask LeaveAsync(SocketConnection connection, string room)
    {
        ValueTask recording;
        lock (_membershipLock)
        {
            if (!connection.IsRegistered || !connection.RemoveRoom(room))
            {
                return;
            }

            RemoveFromIndex(_rooms, room, connection);
            connection.Member = CreateMember(connection);
            recording = _clustered ? RecordPresence(connection.Member, joined: null, left: room) : default;
        }

        Log.RoomLeft(_logger, connection.Id, room);
        await AwaitBackplaneAsync(recording, connection.Id);
    }

    /// <summary>A backplane's presence call; a synchronous throw becomes a faulted task, logged like an asynchronous one.</summary>
    private ValueTask RecordPresence(SocketMember member, string? joined, string? left)
    {
        try
        {
            return _backplane.SetMemberAsync(member, joined, left);
        }
        catch (Exception ex)
        {
            return ValueTask.FromException(ex);
        }
    }

    private ValueTask RecordRemoval(SocketMember member)
    {
        try
        {
            return _backplane.RemoveMemberAsync(member);
        }
        catch (Exception ex)
        {
            return ValueTask.FromException(ex);
        }
    }

    private static void RemoveFromIndex(ConcurrentDictionary<string, ConcurrentDictionary<string, SocketConnection>> index, string key, SocketConnection connection)
    {
        if (index.TryGetValue(key, out var members)
            && members.TryRemove(new KeyValuePair<string, SocketConnection>(connection.Id, connection))
            && members.IsEmpty)
        {
            index.TryRemove(key, out _);
        }
    }

    private SocketMember CreateMember(SocketConnection connection)
    {
        Dictionary<string, JsonElement>? items = null;
        if (Options.PublicSessionItems.Count > 0)
        {
            foreach (var key in Options.PublicSessionItems)
            {
                if (connection.Session.TryGet<object>(key, out var value))
                {
                    try
                    {
                        (items ??= new(StringComparer.Ordinal))[key] = JsonSerializer.SerializeToElement(value, Options.JsonSerializerOptions.GetTypeInfo(value.GetType()));
                    }
                    catch (Exception ex)
                    {
                        Log.PublicItemNotSerializable(_logger, key, connection.Id, ex);
                    }
                }
            }
        }

        return new SocketMember(connection.Id, connection.Namespace, connection.UserId, ServerId, [.. connection.Rooms], items);
    }

    private async ValueTask AwaitBackplaneAsync(ValueTask recording, string connectionId)
    {
        if (recording.IsCompletedSuccessfully)
        {
            return;
        }

        try
        {
            // Bounded: a backplane that hangs during an outage must not hold up connection set-up, disconnect hooks
            // or shutdown. The write may still complete later.
            await recording.AsTask().WaitAsync(Options.ClusterQueryTimeout, TimeProvider);
        }
        catch (Exception ex)
        {
            Log.PresenceFailed(_logger, connectionId, ex);
        }
    }

    // ---- Delivery ------------------------------------------------------------------------------------------

    /// <summary>This server's connections that the target reaches, each once.</summary>
    private IEnumerable<SocketConnection> LocalTargets(AudienceTarget target)
    {
        if (target.ConnectionIds is { } ids)
        {
            HashSet<string>? seenIds = ids.Length > 1 ? new(StringComparer.Ordinal) : null;
            foreach (var id in ids)
            {
                if ((seenIds is null || seenIds.Add(id)) && _connections.TryGetValue(id, out var connection) && connection.IsRegistered && target.Includes(connection, AudienceTarget.Found.ById))
                {
                    yield return connection;
                }
            }

            yield break;
        }

        var index = target.Rooms is not null ? _rooms : target.Users is not null ? _users : null;
        if (index is not null)
        {
            var keys = target.Rooms ?? target.Users!;
            var found = target.Rooms is not null ? AudienceTarget.Found.ByRoom : AudienceTarget.Found.ByUser;
            HashSet<string>? seen = keys.Length > 1 ? new(StringComparer.Ordinal) : null;
            foreach (var key in keys)
            {
                if (!index.TryGetValue(key, out var members))
                {
                    continue;
                }

                foreach (var (_, connection) in members)
                {
                    if ((seen is null || seen.Add(connection.Id)) && target.Includes(connection, found))
                    {
                        yield return connection;
                    }
                }
            }

            yield break;
        }

        if (target.Namespace is { } name)
        {
            if (_namespaces.TryGetValue(name, out var ns))
            {
                foreach (var (_, connection) in ns.Connections)
                {
                    if (target.Includes(connection))
                    {
                        yield return connection;
                    }
                }
            }

            yield break;
        }

        foreach (var ns in _namespaces.Values)
        {
            foreach (var (_, connection) in ns.Connections)
            {
                if (target.Includes(connection))
                {
                    yield return connection;
                }
            }
        }
    }

    private bool Publishes(AudienceTarget target) => _clustered && !target.LocalOnly && target.Filter is null;

    /// <summary>For a target of connection IDs: only the IDs this server does not hold need to travel.</summary>
    private AudienceTarget? RemotePart(AudienceTarget target)
    {
        if (target.ConnectionIds is not { } ids)
        {
            return target;
        }

        var remote = ids.Where(id => !(_connections.TryGetValue(id, out var c) && c.IsRegistered)).ToArray();
        return remote.Length == 0 ? null : remote.Length == ids.Length ? target : target with { ConnectionIds = remote };
    }

    internal ValueTask SendAsync(AudienceTarget target, SocketMessage message, CancellationToken cancellationToken)
    {
        List<Task>? pending = null;
        foreach (var connection in LocalTargets(target))
        {
            pending = Queue(connection.SendAsync(message, cancellationToken), pending);
        }

        if (Publishes(target) && RemotePart(target) is { } remote)
        {
            pending = Queue(Publish(ClusterMessage.Send(remote, message, ClusterMessage.Trailer.Capture(TimeProvider)), cancellationToken), pending);
        }

        return pending is null ? default : new ValueTask(Task.WhenAll(pending));
    }

    internal ValueTask EmitAsync<T>(AudienceTarget target, string eventName, T data, CancellationToken cancellationToken)
    {
        var options = Options.JsonSerializerOptions;
        SocketMessage? frame = null;
        byte[]? item = null;
        List<Task>? pending = null;
        foreach (var connection in LocalTargets(target))
        {
            if (connection.NamespaceState.Batches.TryGetValue(eventName, out var batch))
            {
                connection.AddToBatch(eventName, batch, item ??= EventMessage.Data(data, options));
            }
            else
            {
                pending = Queue(connection.SendAsync(frame ??= EventMessage.Event(eventName, data, options), cancellationToken), pending);
            }
        }

        if (Publishes(target) && RemotePart(target) is { } remote)
        {
            frame ??= EventMessage.Event(eventName, data, options);
            if (_batchedEvents.Contains(eventName))
            {
                item ??= EventMessage.Data(data, options);
            }

            pending = Queue(Publish(ClusterMessage.Emit(remote, eventName, frame.Value, item, ClusterMessage.Trailer.Capture(TimeProvider)), cancellationToken), pending);
        }

        return pending is null ? default : new ValueTask(Task.WhenAll(pending));
    }

    internal ValueTask DisconnectAsync(AudienceTarget target, WebSocketCloseStatus status, string? description)
    {
        if (!ClusterMessage.IsValidClose(status, description))
        {
            throw new ArgumentException($"Close status {(int)status} with that description can't be sent in a close frame (a code of 1000-4999 other than 1004-1006 and 1015, a reason of at most 123 UTF-8 bytes).", nameof(status));
        }

        foreach (var connection in LocalTargets(target))
        {
            connection.RequestClose(status, description, DisconnectReason.ServerClosed, drain: true);
        }

        return Publishes(target) && RemotePart(target) is { } remote
            ? Publish(ClusterMessage.Disconnect(remote, status, description, ClusterMessage.Trailer.Capture(TimeProvider)), CancellationToken.None)
            : default;
    }

    private ValueTask Publish(byte[] message, CancellationToken cancellationToken)
    {
        try
        {
            return _backplane.PublishAsync(message, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.PublishFailed(_logger, ex);
            return default;
        }
    }

    private static List<Task>? Queue(ValueTask sending, List<Task>? pending)
    {
        if (sending.IsCompletedSuccessfully)
        {
            // Consume the result so that a pooled IValueTaskSource can be reused.
            sending.GetAwaiter().GetResult();
            return pending;
        }

        (pending ??= []).Add(sending.AsTask());
        return pending;
    }

    /// <summary>
    /// Runs what another server published on this server's connections. Returns once the message is queued to every
    /// connection that has room: a send that waits for room (<see cref="SendQueueFullMode.Wait"/>) finishes on its
    /// own, so that one slow connection never holds back the backplane's later messages for every other connection.
    /// The connection's own order still holds, as its queue admits waiting sends first.
    /// </summary>
    internal ValueTask DeliverAsync(ReadOnlyMemory<byte> buffer)
    {
        if (!ClusterMessage.TryDecode(buffer, out var message))
        {
            Log.BadClusterMessage(_logger, buffer.Length);
            return default;
        }

        if (message.SentAtTicks != 0 && Metrics.BackplaneLagEnabled)
        {
            Metrics.BackplaneLag(TimeSpan.FromTicks(TimeProvider.GetUtcNow().UtcTicks - message.SentAtTicks));
        }

        using var span = SocketTelemetry.StartDeliver(message);
        var target = message.Target;
        var recipients = 0;
        switch (message.Operation)
        {
            case ClusterMessage.Operation.Send:
                foreach (var connection in LocalTargets(target))
                {
                    recipients++;
                    Forget(connection.SendAsync(message.Message, CancellationToken.None));
                }

                break;
            case ClusterMessage.Operation.Emit:
                var item = message.BatchItem.IsEmpty ? null : message.BatchItem.ToArray();
                foreach (var connection in LocalTargets(target))
                {
                    recipients++;
                    if (item is not null && connection.NamespaceState.Batches.TryGetValue(message.EventName!, out var batch))
                    {
                        connection.AddToBatch(message.EventName!, batch, item);
                    }
                    else
                    {
                        Forget(connection.SendAsync(message.Message, CancellationToken.None));
                    }
                }

                break;
            default:
                return DisconnectAsync(target, message.CloseStatus, message.CloseDescription);
        }

        span.Span?.SetTag(SocketTelemetry.RecipientsTag, recipients);
        return default;
    }

    /// <summary>Lets a send that waits for queue room finish on its own; it never faults (a close discards it).</summary>
    private static void Forget(ValueTask sending)
    {
        if (sending.IsCompletedSuccessfully)
        {
            sending.GetAwaiter().GetResult();
        }
        else
        {
            _ = sending.AsTask();
        }
    }

    // ---- Presence ------------------------------------------------------------------------------------------

    public async Task<ClusterResult<IReadOnlyList<SocketMember>>> GetRoomMembersAsync(string room, CancellationToken cancellationToken = default)
    {
        SocketConnection.ValidateRoom(room);
        var members = new List<SocketMember>();
        if (_rooms.TryGetValue(room, out var local))
        {
            foreach (var (_, connection) in local)
            {
                if (connection.Member is { } member)
                {
                    members.Add(member);
                }
            }
        }

        if (!_clustered)
        {
            return new ClusterResult<IReadOnlyList<SocketMember>>(members, isComplete: true);
        }

        var remote = await QueryAsync(static (b, room, t) => b.GetRoomMembersAsync(room, t), room, (IReadOnlyList<SocketMember>)[], cancellationToken);
        foreach (var member in remote.Value)
        {
            if (!string.Equals(member.ServerId, ServerId, StringComparison.Ordinal))
            {
                members.Add(member);
            }
        }

        return new ClusterResult<IReadOnlyList<SocketMember>>(members, remote.IsComplete, remote.MissingServers);
    }

    public async Task<ClusterResult<IReadOnlyList<string>>> GetRoomsAsync(string connectionId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionId);
        if (_connections.TryGetValue(connectionId, out var connection) && connection.IsRegistered)
        {
            return new ClusterResult<IReadOnlyList<string>>([.. connection.Rooms], isComplete: true);
        }

        if (!_clustered)
        {
            return new ClusterResult<IReadOnlyList<string>>([], isComplete: true);
        }

        var remote = await QueryAsync(static (b, id, t) => b.GetMemberAsync(id, t), connectionId, (SocketMember?)null, cancellationToken);
        return new ClusterResult<IReadOnlyList<string>>(remote.Value?.Rooms ?? [], remote.Value is not null || remote.IsComplete, remote.MissingServers);
    }

    /// <summary>This server's members of a room, or null when it has none. Enumerated live: no copy, no locks.</summary>
    internal IEnumerable<SocketConnection>? GetLocalRoomMembers(string room)
        => _rooms.TryGetValue(room, out var members) ? members.Select(static m => m.Value) : null;

    /// <summary>How many of a room's members this server holds.</summary>
    internal int GetLocalRoomMemberCount(string room) => _rooms.TryGetValue(room, out var members) ? members.Count : 0;

    /// <summary>Finds a connection: on this server first, then through the backplane's presence.</summary>
    internal async Task<ClusterResult<SocketMember?>> FindMemberAsync(string connectionId, CancellationToken cancellationToken)
    {
        if (_connections.TryGetValue(connectionId, out var connection) && connection.IsRegistered && connection.Member is { } member)
        {
            return new ClusterResult<SocketMember?>(member, isComplete: true);
        }

        if (!_clustered)
        {
            return new ClusterResult<SocketMember?>(null, isComplete: true);
        }

        var remote = await QueryAsync(static (b, id, t) => b.GetMemberAsync(id, t), connectionId, (SocketMember?)null, cancellationToken);
        return new ClusterResult<SocketMember?>(remote.Value, remote.Value is not null || remote.IsComplete, remote.MissingServers);
    }

    public async Task<ClusterResult<SocketCounts>> GetCountsAsync(CancellationToken cancellationToken = default)
    {
        var namespaces = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (name, ns) in _namespaces)
        {
            if (ns.Count > 0)
            {
                namespaces[name] = ns.Count;
            }
        }

        var rooms = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (room, members) in _rooms)
        {
            if (members.Count > 0)
            {
                rooms[room] = members.Count;
            }
        }

        if (!_clustered)
        {
            return new ClusterResult<SocketCounts>(new SocketCounts(namespaces, rooms), isComplete: true);
        }

        var empty = new SocketCounts(new Dictionary<string, int>(), new Dictionary<string, int>());
        var remote = await QueryAsync(static (b, _, t) => b.GetCountsAsync(t), 0, empty, cancellationToken);
        foreach (var (name, count) in remote.Value.Namespaces)
        {
            namespaces[name] = namespaces.GetValueOrDefault(name) + count;
        }

        foreach (var (room, count) in remote.Value.Rooms)
        {
            rooms[room] = rooms.GetValueOrDefault(room) + count;
        }

        return new ClusterResult<SocketCounts>(new SocketCounts(namespaces, rooms), remote.IsComplete, remote.MissingServers);
    }

    /// <summary>
    /// Asks the backplane, within <see cref="SocketRegistryOptions.ClusterQueryTimeout"/>. A backplane that fails, or
    /// does not answer in time even though its token was canceled, gives an incomplete, empty part.
    /// </summary>
    private async Task<ClusterResult<T>> QueryAsync<TArg, T>(
        Func<SocketBackplane, TArg, CancellationToken, Task<ClusterResult<T>>> query, TArg argument, T fallback, CancellationToken cancellationToken)
    {
        var timeout = Options.ClusterQueryTimeout;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            // The backplane gets the deadline and should answer with what it has; the wait below is the hard bound
            // for one that does not.
            return await query(_backplane, argument, deadline.Token).WaitAsync(timeout + timeout, TimeProvider, cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            Log.QueryIncomplete(_logger, ex);
            return new ClusterResult<T>(fallback, isComplete: false);
        }
    }

    /// <summary>This server, as the backplane sees it.</summary>
    private sealed class RegistryBackplaneContext(SocketRegistry registry) : SocketBackplaneContext
    {
        public override string ServerId => registry.ServerId;

        public override async ValueTask DeliverAsync(ReadOnlyMemory<byte> message)
        {
            try
            {
                await registry.DeliverAsync(message);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.DeliverFailed(registry._logger, ex);
            }
        }

        public override IReadOnlyList<SocketMember> GetLocalMembers()
        {
            lock (registry._membershipLock)
            {
                var members = new List<SocketMember>(registry.Count);
                foreach (var ns in registry._namespaces.Values)
                {
                    foreach (var (_, connection) in ns.Connections)
                    {
                        if (connection.IsRegistered && connection.Member is { } member)
                        {
                            members.Add(member);
                        }
                    }
                }

                return members;
            }
        }
    }
}
