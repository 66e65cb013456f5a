namespace WebSockets;

/// <summary>
/// Connects the registries of several servers so that they act as one: messages for rooms, users, connection IDs and
/// namespaces reach the connections of every server, and presence queries see every server's connections.
/// </summary>
/// <remarks>
/// <para>
/// The registry delivers to its own connections itself; a backplane only carries messages to the other servers and
/// keeps the presence of this server where the others can read it. The default backplane connects nothing: a single
/// server needs no configuration. <c>WebSockets.Redis</c> provides one over Redis.
/// </para>
/// <para>
/// The registry calls <see cref="StartAsync"/> once when the host starts and <see cref="StopAsync"/> once when it
/// stops, after its connections have closed. The presence calls of one connection are made in order; calls for
/// different connections may run at once. Every member must be safe to call from any thread.
/// </para>
/// </remarks>
public abstract class SocketBackplane
{
    /// <summary>Starts the backplane: connects, subscribes, and begins to publish this server's presence.</summary>
    /// <param name="context">This server: its ID, the way to deliver what other servers publish, and its presence.</param>
    /// <param name="cancellationToken">Canceled when start-up is aborted.</param>
    /// <returns>A task that completes when the backplane can publish and receive.</returns>
    public abstract Task StartAsync(SocketBackplaneContext context, CancellationToken cancellationToken);

    /// <summary>Stops the backplane and removes this server's presence.</summary>
    /// <param name="cancellationToken">Canceled when the stop must no longer be graceful.</param>
    /// <returns>A task that completes when the backplane has stopped.</returns>
    public abstract Task StopAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Publishes a message to every other server, which passes it to <see cref="SocketBackplaneContext.DeliverAsync"/>.
    /// The message is opaque: the registry writes and reads it. A message must not be delivered back to this server.
    /// </summary>
    /// <param name="message">The message. The backplane may keep it: it is never changed after the call.</param>
    /// <param name="cancellationToken">Cancels the publish.</param>
    /// <returns>
    /// A task that completes when the message is handed to the transport. A message that can't be published is
    /// logged and counted by the backplane, not thrown: local delivery must go on.
    /// </returns>
    public abstract ValueTask PublishAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken);

    /// <summary>Records the presence of a connection of this server that was registered, joined a room or left one.</summary>
    /// <param name="member">The connection's presence now, including all its rooms.</param>
    /// <param name="joined">The room it just joined, if any.</param>
    /// <param name="left">The room it just left, if any.</param>
    /// <returns>A task that completes when the change is recorded or queued to be.</returns>
    public abstract ValueTask SetMemberAsync(SocketMember member, string? joined, string? left);

    /// <summary>Removes the presence of a connection of this server that has ended, from every room it was in.</summary>
    /// <param name="member">The connection's last presence, including the rooms it was in.</param>
    /// <returns>A task that completes when the removal is recorded or queued to be.</returns>
    public abstract ValueTask RemoveMemberAsync(SocketMember member);

    /// <summary>Gets the members of a room on the other live servers.</summary>
    /// <param name="room">The room.</param>
    /// <param name="cancellationToken">Canceled when the query's time is up: return what was read, as incomplete.</param>
    /// <returns>The members; incomplete when a server's part could not be read.</returns>
    public abstract Task<ClusterResult<IReadOnlyList<SocketMember>>> GetRoomMembersAsync(string room, CancellationToken cancellationToken);

    /// <summary>Finds a connection on the other live servers.</summary>
    /// <param name="connectionId">The connection ID.</param>
    /// <param name="cancellationToken">Canceled when the query's time is up.</param>
    /// <returns>The member, or <see langword="null"/> when no other server has it.</returns>
    public abstract Task<ClusterResult<SocketMember?>> GetMemberAsync(string connectionId, CancellationToken cancellationToken);

    /// <summary>Counts, on the other live servers, the connections per namespace and the members per room.</summary>
    /// <param name="cancellationToken">Canceled when the query's time is up.</param>
    /// <returns>The counts; namespaces and rooms with no one in them are left out.</returns>
    public abstract Task<ClusterResult<SocketCounts>> GetCountsAsync(CancellationToken cancellationToken);
}
