namespace WebSockets;

/// <summary>What a <see cref="SocketBackplane"/> is given of the server it runs in.</summary>
public abstract class SocketBackplaneContext
{
    /// <summary>Gets this server's ID in the cluster: unique per process start.</summary>
    public abstract string ServerId { get; }

    /// <summary>
    /// Delivers a message that another server published to this server's connections. Never throws for a bad or unknown
    /// message: it is logged and dropped.
    /// </summary>
    /// <param name="message">
    /// The message exactly as it was passed to <see cref="SocketBackplane.PublishAsync"/>. Its memory may be kept and
    /// sent after the call returns: do not reuse or return it to a pool.
    /// </param>
    /// <returns>A task that completes when the message is queued to every local target.</returns>
    public abstract ValueTask DeliverAsync(ReadOnlyMemory<byte> message);

    /// <summary>
    /// Gets the presence of every live connection of this server, to publish it again in full, for example after the
    /// backplane's store lost it.
    /// </summary>
    /// <returns>A snapshot of the members.</returns>
    public abstract IReadOnlyList<SocketMember> GetLocalMembers();
}
