namespace WebSockets;

/// <summary>
/// Configures one namespace: the hooks that run when a connection joins it and when it leaves.
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
